// The OpenAI Node SDK (chat completions, the app keeps the history) traced by
// @arizeai/openinference-instrumentation-openai; session and user from
// @arizeai/openinference-core's setSession / setUser on the active context.
import { setSession, setUser } from "@arizeai/openinference-core";
import { OpenAIInstrumentation } from "@arizeai/openinference-instrumentation-openai";
import { context } from "@opentelemetry/api";
import OpenAI from "openai";

import { MODEL, QUESTIONS, SESSION_ID, SYSTEM_PROMPT, USER_ID, tracerProvider } from "./common.mjs";

const provider = tracerProvider();
new OpenAIInstrumentation().manuallyInstrument(OpenAI);

const client = new OpenAI();
const messages = [{ role: "system", content: SYSTEM_PROMPT }];
for (const question of QUESTIONS) {
  messages.push({ role: "user", content: question });
  const ctx = setUser(setSession(context.active(), { sessionId: SESSION_ID }), { userId: USER_ID });
  const completion = await context.with(ctx, () => client.chat.completions.create({ model: MODEL, messages }));
  const reply = completion.choices[0].message.content;
  messages.push({ role: "assistant", content: reply });
  console.log(`user: ${question}\nassistant: ${reply}`);
}

await provider.shutdown();
