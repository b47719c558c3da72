// Benchmarks openinference-session beside @arizeai/openinference-core in one
// run: what a session adds to a span, the cost of entering and leaving a scope,
// and a span outside any session. Medians of repeated batches, in µs per
// operation.
//
//   npm run bench --workspace node            (from the repository root)
//   node node/bench/bench.mjs --json          (machine-readable)
import { context, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import * as oi from "@arizeai/openinference-core";
import * as s from "openinference-session";

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

const BATCH = Number(process.env.BENCH_BATCH ?? 20000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
// More distinct ids than any cache holds: "a new id each time" means it.
const IDS = Array.from({ length: 65536 }, (_, i) => `conversation-${i}-${Math.random().toString(36).slice(2)}`);
const id = (i) => IDS[i & 65535];

/** Median µs per call of `fn(i)` over ROUNDS batches of BATCH calls. */
function measure(fn) {
  for (let i = 0; i < BATCH; i++) fn(i); // warm-up
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) fn(i);
    rounds.push(Number(process.hrtime.bigint() - start) / BATCH / 1000);
  }
  rounds.sort((a, b) => a - b);
  return rounds[Math.floor(rounds.length / 2)];
}

const plain = new BasicTracerProvider().getTracer("bench");
const noopProcessor = { onStart() {}, onEnd() {}, forceFlush: () => Promise.resolve(), shutdown: () => Promise.resolve() };
const withNoop = new BasicTracerProvider({ spanProcessors: [noopProcessor] }).getTracer("bench");
const ours = new BasicTracerProvider({ spanProcessors: [new s.SessionSpanProcessor()] }).getTracer("bench");
const theirs = new oi.OITracer({ tracer: plain });
const noop = () => undefined;
const metadata = { plan: "pro", region: "eu", turn: 3 };
const tags = ["chat", "beta"];

const results = {};
function record(name, value) {
  results[name] = Math.round(value * 1000) / 1000;
}

// Spans.
record("bare span (no processor)", measure(() => plain.startSpan("op").end()));
record("bare span (a no-op processor)", measure(() => withNoop.startSpan("op").end()));
record("span outside any session, our processor", measure(() => ours.startSpan("op").end()));
const outside = trace.setSpan(ROOT_CONTEXT, plain.startSpan("parent"));
record("span outside any session under a parent span, our processor", measure(() => ours.startSpan("op", {}, outside).end()));
record("span under a parent span, a no-op processor", measure(() => withNoop.startSpan("op", {}, outside).end()));
const fixed = { "session.id": IDS[0] };
record("span with a fixed session.id attribute", measure(() => plain.startSpan("op", { attributes: fixed }).end()));
context.with(s.setSession(ROOT_CONTEXT, { sessionId: IDS[0] }), () => {
  record("span in a session, our processor", measure(() => ours.startSpan("op").end()));
});
context.with(
  s.setContextAttributes(ROOT_CONTEXT, { sessionId: IDS[0], userId: "u-1", metadata, tags }),
  () => record("span in a four-attribute scope, our processor", measure(() => ours.startSpan("op").end())),
);
context.with(oi.setSession(ROOT_CONTEXT, { sessionId: IDS[0] }), () => {
  record("span in a session, their OITracer", measure(() => theirs.startSpan("op").end()));
  record(
    "span in a session, their getAttributesFromContext by hand",
    measure(() => plain.startSpan("op", { attributes: oi.getAttributesFromContext(context.active()) }).end()),
  );
});
context.with(oi.setSession(ROOT_CONTEXT, { sessionId: IDS[0] }), () => {
  record("span in their session, our processor", measure(() => ours.startSpan("op").end()));
});

// Scopes: enter and leave, with a different session id each time.
record("session scope, ours: withSession", measure((i) => s.withSession(id(i), noop)));
record(
  "session scope, ours: setSession + context.with",
  measure((i) => context.with(s.setSession(context.active(), { sessionId: id(i) }), noop)),
);
record(
  "session scope, theirs: setSession + context.with",
  measure((i) => context.with(oi.setSession(context.active(), { sessionId: id(i) }), noop)),
);
record(
  "four-attribute scope, ours: withAttributes",
  measure((i) => s.withAttributes({ sessionId: id(i), userId: "u-1", metadata, tags }, noop)),
);
record(
  "four-attribute scope, theirs: four chained setters + context.with",
  measure((i) =>
    context.with(
      oi.setTags(oi.setMetadata(oi.setUser(oi.setSession(context.active(), { sessionId: id(i) }), { userId: "u-1" }), metadata), tags),
      noop,
    ),
  ),
);
// A scope and one span in it: both costs together, as a turn pays them. A new
// id each time computes the scope's attributes in the core; the same id again
// (each turn of one conversation) finds them computed.
record(
  "session scope + one span, ours, a new id each time",
  measure((i) => s.withSession(id(i), () => ours.startSpan("op").end())),
);
record(
  "session scope + one span, ours, the same id again",
  measure(() => s.withSession(IDS[0], () => ours.startSpan("op").end())),
);
record(
  "session scope + three spans, ours, a new id each time",
  measure((i) => s.withSession(id(i), () => { ours.startSpan("a").end(); ours.startSpan("b").end(); ours.startSpan("c").end(); })),
);
record(
  "session scope + one span, theirs (OITracer)",
  measure((i) => context.with(oi.setSession(context.active(), { sessionId: id(i) }), () => theirs.startSpan("op").end())),
);
record(
  "session scope + three spans, theirs (OITracer)",
  measure((i) =>
    context.with(oi.setSession(context.active(), { sessionId: id(i) }), () => {
      theirs.startSpan("a").end();
      theirs.startSpan("b").end();
      theirs.startSpan("c").end();
    }),
  ),
);

const bare = results["bare span (no processor)"];
const derived = {
  "a session adds to a span, ours": results["span in a session, our processor"] - bare,
  "a session adds to a span, theirs (OITracer)": results["span in a session, their OITracer"] - bare,
  "a session adds to a span, theirs (by hand)": results["span in a session, their getAttributesFromContext by hand"] - bare,
  "a fixed attribute adds to a span": results["span with a fixed session.id attribute"] - bare,
  "our processor adds to a span outside any session (vs a no-op processor)":
    results["span outside any session, our processor"] - results["bare span (a no-op processor)"],
  "our processor adds to a child span outside any session (vs a no-op processor)":
    results["span outside any session under a parent span, our processor"] - results["span under a parent span, a no-op processor"],
};
for (const [k, v] of Object.entries(derived)) record(k, v);

if (process.argv.includes("--json")) {
  console.log(JSON.stringify({ node: process.version, batch: BATCH, rounds: ROUNDS, results }, null, 2));
} else {
  console.log(`node ${process.version}, median of ${ROUNDS} batches of ${BATCH} calls, µs per call`);
  const width = Math.max(...Object.keys(results).map((k) => k.length));
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(width)}  ${v.toFixed(3)}`);
}
