// A multi-turn support chat, traced with sessions.
//
// Every user turn is one trace: an app-level CHAIN span (the turn) around an
// LLM span (and, when the assistant looks something up, a TOOL span). The
// whole conversation shares one session id, so a sessions server shows it as
// one back-and-forth.
//
//   node examples/node-chat/chat.mjs              exports OTLP/HTTP to $OI_SESSIONS_ENDPOINT
//                                                 (default http://127.0.0.1:6006/v1/traces)
//   node examples/node-chat/chat.mjs --console    prints the spans instead
//
// The assistant is a small deterministic stand-in for an LLM (this example
// must run without network access or API keys); the tracing is what a real
// app does.
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { SessionSpanProcessor, withAttributes, withSession } from "openinference-session";

export const DEFAULT_ENDPOINT = "http://127.0.0.1:6006/v1/traces";
const MODEL = "gpt-4o-mini";
const SYSTEM_PROMPT = "You are the billing assistant of Example Corp. Be brief.";
const CONVERSATION = [
  "My invoice shows the wrong VAT number",
  "Can you resend it to billing@example.com?",
  "Thanks, that worked",
];

/** A rough token count (about four characters per token). */
const tokens = (text) => Math.max(1, Math.floor(text.length / 4));

/** The stand-in LLM: a reply, and the tool it consulted, if any. */
async function assistantReply(question) {
  await new Promise((resolve) => setTimeout(resolve, 20)); // the model thinks
  const q = question.toLowerCase();
  if (q.includes("vat")) return ["I corrected the VAT number on invoice INV-1042 to EU372000041.", "lookup_invoice"];
  if (q.includes("resend") || q.includes("@")) return ["Done: invoice INV-1042 was sent to billing@example.com.", "send_invoice"];
  return ["Glad it worked. Anything else I can help with?", undefined];
}

async function runTurn(tracer, history, question) {
  return tracer.startActiveSpan("chat-turn", async (turn) => {
    try {
      turn.setAttribute("openinference.span.kind", "CHAIN");
      turn.setAttribute("input.value", question);
      history.push({ role: "user", content: question });
      const [reply, tool] = await assistantReply(question);
      if (tool !== undefined) {
        const toolSpan = tracer.startSpan(tool, {
          attributes: {
            "openinference.span.kind": "TOOL",
            "tool.name": tool,
            "input.value": JSON.stringify({ invoice: "INV-1042" }),
            "output.value": JSON.stringify({ status: "ok" }),
          },
        });
        toolSpan.end();
      }
      const llm = tracer.startSpan("ChatCompletion");
      const messages = [{ role: "system", content: SYSTEM_PROMPT }, ...history];
      llm.setAttribute("openinference.span.kind", "LLM");
      llm.setAttribute("llm.model_name", MODEL);
      messages.forEach((message, i) => {
        llm.setAttribute(`llm.input_messages.${i}.message.role`, message.role);
        llm.setAttribute(`llm.input_messages.${i}.message.content`, message.content);
      });
      llm.setAttribute("llm.output_messages.0.message.role", "assistant");
      llm.setAttribute("llm.output_messages.0.message.content", reply);
      llm.setAttribute("input.value", JSON.stringify({ model: MODEL, messages }));
      llm.setAttribute("input.mime_type", "application/json");
      llm.setAttribute("output.value", reply);
      const prompt = messages.reduce((n, m) => n + tokens(m.content), 0);
      const completion = tokens(reply);
      llm.setAttribute("llm.token_count.prompt", prompt);
      llm.setAttribute("llm.token_count.completion", completion);
      llm.setAttribute("llm.token_count.total", prompt + completion);
      llm.end();
      history.push({ role: "assistant", content: reply });
      turn.setAttribute("output.value", reply);
      return reply;
    } finally {
      turn.end();
    }
  });
}

function exportProcessor(consoleOutput) {
  if (consoleOutput) return new SimpleSpanProcessor(new ConsoleSpanExporter());
  const url = process.env.OI_SESSIONS_ENDPOINT || DEFAULT_ENDPOINT;
  const apiKey = process.env.OI_SESSIONS_API_KEY;
  const headers = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
  return new BatchSpanProcessor(new OTLPTraceExporter({ url, headers }));
}

async function main() {
  const { values } = parseArgs({
    options: {
      console: { type: "boolean", default: false },
      "session-id": { type: "string" },
      project: { type: "string", default: process.env.OI_SESSIONS_PROJECT || "support-bot" },
    },
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": values.project, "openinference.project.name": values.project }),
    spanProcessors: [new SessionSpanProcessor(), exportProcessor(values.console)],
  });
  trace.setGlobalTracerProvider(provider);
  const tracer = provider.getTracer("node-chat");

  const sessionId = values["session-id"] ?? `chat-${randomUUID().slice(0, 12)}`;
  const history = [];
  await withSession(sessionId, () =>
    withAttributes({ userId: "user-42", metadata: { plan: "pro", channel: "web" }, tags: ["billing"] }, async () => {
      for (const question of CONVERSATION) {
        const reply = await runTurn(tracer, history, question);
        console.log(`user:      ${question}\nassistant: ${reply}`);
      }
    }),
  );
  await provider.shutdown(); // flushes the exporter
  console.log(`session ${sessionId}: ${CONVERSATION.length} turns sent`);
}

await main();
