// Shared set-up of the end-to-end tests: the real `oi-sessions` binary
// ($OI_SESSIONS_BIN) on a free port with a fresh data directory, filled through
// the real Node instrumentation (SessionSpanProcessor in an OpenTelemetry SDK
// provider, exported with the OTLP/HTTP protobuf exporter).
//
// The package is imported by its name, as an app does: `openinference-session`
// resolves through the npm workspace link to the built package (`node/dist`,
// `npm run build --workspace node`), by its `exports` map.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { context, SpanStatusCode } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { SessionSpanProcessor, withAttributes, withSession } from "openinference-session";

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

const HOW_TO =
  "OI_SESSIONS_BIN must name the oi-sessions binary: " +
  "`flock /tmp/oi-cargo.lock cargo build --release -p openinference-session-server`, " +
  "then OI_SESSIONS_BIN=$PWD/target/release/oi-sessions node --test node/test-e2e/";

/** Starts `oi-sessions serve` on 127.0.0.1:0; resolves to `{ base, stop }`. */
export async function startServer() {
  const bin = process.env.OI_SESSIONS_BIN;
  if (!bin) throw new Error(HOW_TO);
  const dataDir = mkdtempSync(join(tmpdir(), "oi-node-client-e2e-"));
  const server = spawn(bin, ["serve", "--http-addr", "127.0.0.1:0", "--grpc-addr", "off", "--data-dir", dataDir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  server.stderr.on("data", (d) => (out += d));
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start within 15 s: ${out}`)), 15_000);
    server.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run OI_SESSIONS_BIN=${bin}: ${e.message}\n${HOW_TO}`));
    });
    server.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code}: ${out}`));
    });
    server.stdout.on("data", (d) => {
      out += d;
      const m = /oi-sessions listening http=(\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(`http://${m[1]}`);
      }
    });
  });
  return {
    base,
    async stop() {
      if (server.exitCode === null) {
        const exited = new Promise((resolve) => server.once("exit", resolve));
        server.kill();
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends sessions through the instrumentation: each `{ sessionId, userId?,
 * metadata?, tags?, turns: [{ input, output, error? }] }` becomes one trace per
 * turn (a CHAIN span around an LLM span), every span started inside
 * `withSession`/`withAttributes`. Resolves once the exporter has delivered.
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
          await tracer.startActiveSpan("turn", async (span) => {
            span.setAttribute("openinference.span.kind", "CHAIN");
            span.setAttribute("input.value", turn.input);
            const llm = tracer.startSpan("llm", { attributes: { "openinference.span.kind": "LLM" } });
            llm.end();
            if (turn.error) {
              span.setStatus({ code: SpanStatusCode.ERROR, message: turn.error });
            } else {
              span.setAttribute("output.value", turn.output);
            }
            span.end();
          });
          await sleep(2); // distinct start times: turns and sessions sort as sent
        }
      }),
    );
  }
  await provider.forceFlush();
  await provider.shutdown();
}

/** Polls `check` (an async function returning truthy when ready) for up to 10 s. */
export async function eventually(check, what) {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`never happened: ${what}`);
}
