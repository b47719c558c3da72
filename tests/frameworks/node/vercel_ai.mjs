// The Vercel AI SDK: generateText with a tool (a few steps), the app keeping
// the messages, over @ai-sdk/openai's chat model. Telemetry the way the SDK's
// docs say: `experimental_telemetry: {isEnabled: true, metadata: {sessionId,
// userId}}` (the SDK has no session of its own; metadata is where apps put it).
//   node vercel_ai.mjs plain          the SDK's own spans through a batch processor
//   node vercel_ai.mjs openinference  through @arizeai/openinference-vercel's processor
import { OpenInferenceBatchSpanProcessor } from "@arizeai/openinference-vercel";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, tool } from "ai";
import { z } from "zod";

import { MODEL, OPENAI_BASE_URL, QUESTIONS, SESSION_ID, SYSTEM_PROMPT, TOOL, USER_ID, tracerProvider, trackParcel } from "./common.mjs";

const mode = process.argv[2];
if (mode !== "plain" && mode !== "openinference") throw new Error("usage: node vercel_ai.mjs plain|openinference");
const provider = tracerProvider(
  mode === "openinference" ? (exporter) => new OpenInferenceBatchSpanProcessor({ exporter }) : undefined,
);

const openai = createOpenAI({ baseURL: OPENAI_BASE_URL, apiKey: process.env.OPENAI_API_KEY });
const tools = {
  [TOOL.name]: tool({
    description: TOOL.description,
    inputSchema: z.object({ parcel_id: z.string() }),
    execute: async (args) => trackParcel(args),
  }),
};

const messages = [];
for (const question of QUESTIONS) {
  messages.push({ role: "user", content: question });
  const result = await generateText({
    model: openai.chat(MODEL),
    system: SYSTEM_PROMPT,
    messages,
    tools,
    stopWhen: stepCountIs(5),
    experimental_telemetry: { isEnabled: true, functionId: "parcel-chat", metadata: { sessionId: SESSION_ID, userId: USER_ID } },
  });
  messages.push(...result.response.messages);
  console.log(`user: ${question}\nassistant: ${result.text}`);
}

await provider.shutdown();
