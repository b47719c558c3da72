// LangChain.js: a prompt | ChatOpenAI chain with the history passed in, traced
// by @arizeai/openinference-instrumentation-langchain; session and user from
// @arizeai/openinference-core's setSession / setUser on the active context.
import { LangChainInstrumentation } from "@arizeai/openinference-instrumentation-langchain";
import { setSession, setUser } from "@arizeai/openinference-core";
import * as CallbackManagerModule from "@langchain/core/callbacks/manager";
import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { ChatPromptTemplate, MessagesPlaceholder } from "@langchain/core/prompts";
import { ChatOpenAI } from "@langchain/openai";
import { context } from "@opentelemetry/api";

import { MODEL, OPENAI_BASE_URL, QUESTIONS, SESSION_ID, SYSTEM_PROMPT, USER_ID, tracerProvider } from "./common.mjs";

const provider = tracerProvider();
new LangChainInstrumentation().manuallyInstrument(CallbackManagerModule);

const prompt = ChatPromptTemplate.fromMessages([
  ["system", SYSTEM_PROMPT],
  new MessagesPlaceholder("history"),
  ["human", "{question}"],
]);
const chain = prompt.pipe(new ChatOpenAI({ model: MODEL, temperature: 0, configuration: { baseURL: OPENAI_BASE_URL } }));

const history = [];
for (const question of QUESTIONS) {
  const ctx = setUser(setSession(context.active(), { sessionId: SESSION_ID }), { userId: USER_ID });
  const reply = await context.with(ctx, () => chain.invoke({ question, history }));
  history.push(new HumanMessage(question), new AIMessage(reply.content));
  console.log(`user: ${question}\nassistant: ${reply.content}`);
}

await provider.shutdown();
