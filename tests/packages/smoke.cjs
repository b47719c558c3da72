// Smoke check of the installed npm packages (the main package and this
// platform's addon package): it loads, a session scope is stamped on a span
// by SessionSpanProcessor. Run by `scripts/dist.sh --check` in a scratch app
// without Rust on the PATH.
const { context } = require("@opentelemetry/api");
const { AsyncLocalStorageContextManager } = require("@opentelemetry/context-async-hooks");
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require("@opentelemetry/sdk-trace-base");
const { SessionSpanProcessor, withAttributes, withSession } = require("openinference-session");

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SessionSpanProcessor(), new SimpleSpanProcessor(exporter)] });
withSession("conv-42", () =>
  withAttributes({ userId: "user-7", tags: ["billing"] }, () => provider.getTracer("smoke").startSpan("turn").end()),
);
const [span] = exporter.getFinishedSpans();
const want = { "session.id": "conv-42", "user.id": "user-7" };
for (const [key, value] of Object.entries(want)) {
  if (span.attributes[key] !== value) throw new Error(`${key}: ${JSON.stringify(span.attributes)}`);
}
if (JSON.stringify(span.attributes["tag.tags"]) !== '["billing"]') throw new Error(JSON.stringify(span.attributes));
const addon = Object.keys(require.cache).find((f) => f.endsWith(".node"));
console.log(`ok: Node ${process.version}, addon ${addon}`);
