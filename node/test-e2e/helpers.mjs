// Shared set-up of the end-to-end tests: the real `oi-sessions` binary
// ($OI_SESSIONS_BIN) on a free port with a fresh data directory
// (tests/support/oi-server.mjs), filled through the real Node instrumentation
// (SessionSpanProcessor in an OpenTelemetry SDK provider, exported with the
// OTLP/HTTP protobuf exporter).
//
// The package is imported by its name, as an app does: `openinference-session`
// resolves through the npm workspace link to the built package (`node/dist`,
// `npm run build --workspace node`), by its `exports` map.
import { context, SpanStatusCode } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { SessionSpanProcessor, withAttributes, withSession } from "openinference-session";

export { startServer } from "../../tests/support/oi-server.mjs";

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

// Explicit span times, strictly increasing across calls, so turns and sessions
// sort as sent without waiting for the clock to move.
let lastTime = 0;
const tick = () => (lastTime = Math.max(Date.now(), lastTime + 1));

/**
 * Sends sessions through the instrumentation: each `{ sessionId, userId?,
 * metadata?, tags?, turns: [{ input, output, error? }] }` becomes one trace per
 * turn (a CHAIN span around an LLM span), every span started inside
 * `withSession`/`withAttributes`. Resolves once the exporter has delivered,
 * that is once the server has committed every span.
 */
export async function sendSessions(base, project, sessions) {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": project, "openinference.project.name": project }),
    spanProcessors: [
      new SessionSpanProcessor(),
      new BatchSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` }), { scheduledDelayMillis: 50 }),
    ],
  });
  const tracer = provider.getTracer("client-e2e");
  for (const s of sessions) {
    const scope = { userId: s.userId, metadata: s.metadata, tags: s.tags };
    for (const key of Object.keys(scope)) if (scope[key] === undefined) delete scope[key];
    await withSession(s.sessionId, () =>
      withAttributes(scope, async () => {
        for (const turn of s.turns) {
          await tracer.startActiveSpan("turn", { startTime: tick() }, async (span) => {
            span.setAttribute("openinference.span.kind", "CHAIN");
            span.setAttribute("input.value", turn.input);
            const llm = tracer.startSpan("llm", { startTime: tick(), attributes: { "openinference.span.kind": "LLM" } });
            llm.end(tick());
            if (turn.error) {
              span.setStatus({ code: SpanStatusCode.ERROR, message: turn.error });
            } else {
              span.setAttribute("output.value", turn.output);
            }
            span.end(tick());
          });
        }
      }),
    );
  }
  await provider.forceFlush();
  await provider.shutdown();
}
