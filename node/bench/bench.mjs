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

const BATCH = Number(process.env.BENCH_BATCH ?? 10000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
// More distinct ids than any cache holds: "a new id each time" means it.
const IDS = Array.from({ length: 65536 }, (_, i) => `conversation-${i}-${Math.random().toString(36).slice(2)}`);
const id = (i) => IDS[i & 65535];

/** Runs `fn(i)` BATCH times; returns µs per call. */
function batch(fn) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < BATCH; i++) fn(i);
  return Number(process.hrtime.bigint() - start) / BATCH / 1000;
}

// Cases run interleaved, one batch of each per round, so that a slow moment of
// this shared machine hits every case alike; "adds" figures are medians of the
// per-round differences.
const cases = [];
/** Registers a case: `fn(i)` is one operation, run in the context `ctx` (default: the root context). */
function measure(name, fn, ctx) {
  cases.push({ name, run: ctx === undefined ? () => batch(fn) : () => context.with(ctx, () => batch(fn)), rounds: [] });
}

const plain = new BasicTracerProvider().getTracer("bench");
const noopProcessor = { onStart() {}, onEnd() {}, forceFlush: () => Promise.resolve(), shutdown: () => Promise.resolve() };
const withNoop = new BasicTracerProvider({ spanProcessors: [noopProcessor] }).getTracer("bench");
const ours = new BasicTracerProvider({ spanProcessors: [new s.SessionSpanProcessor()] }).getTracer("bench");
const theirs = new oi.OITracer({ tracer: plain });
const noop = () => undefined;
const metadata = { plan: "pro", region: "eu", turn: 3 };
const tags = ["chat", "beta"];


// Spans.
measure("bare span (no processor)", () => plain.startSpan("op").end());
measure("bare span (a no-op processor)", () => withNoop.startSpan("op").end());
measure("span outside any session, our processor", () => ours.startSpan("op").end());
const outside = trace.setSpan(ROOT_CONTEXT, plain.startSpan("parent"));
measure("child span outside any session, a no-op processor", () => withNoop.startSpan("op", {}, outside).end());
measure("child span outside any session, our processor", () => ours.startSpan("op", {}, outside).end());
const fixed = { "session.id": IDS[0] };
measure("span with a fixed session.id attribute", () => plain.startSpan("op", { attributes: fixed }).end());
const oursSession = s.setSession(ROOT_CONTEXT, { sessionId: IDS[0] });
measure("span in a session, our processor", () => ours.startSpan("op").end(), oursSession);
const fourAttributes = s.setContextAttributes(ROOT_CONTEXT, { sessionId: IDS[0], userId: "u-1", metadata, tags });
measure("span in a four-attribute scope, our processor", () => ours.startSpan("op").end(), fourAttributes);
const theirSession = oi.setSession(ROOT_CONTEXT, { sessionId: IDS[0] });
measure("span in a session, their OITracer", () => theirs.startSpan("op").end(), theirSession);
measure(
  "span in a session, their getAttributesFromContext by hand",
  () => plain.startSpan("op", { attributes: oi.getAttributesFromContext(context.active()) }).end(),
  theirSession,
);
measure("span in their session, our processor", () => ours.startSpan("op").end(), theirSession);

// Scopes: enter and leave, with a different session id each time.
measure("session scope, ours: withSession", (i) => s.withSession(id(i), noop));
measure("session scope, ours: setSession + context.with", (i) =>
  context.with(s.setSession(context.active(), { sessionId: id(i) }), noop),
);
measure("session scope, theirs: setSession + context.with", (i) =>
  context.with(oi.setSession(context.active(), { sessionId: id(i) }), noop),
);
measure("four-attribute scope, ours: withAttributes", (i) =>
  s.withAttributes({ sessionId: id(i), userId: "u-1", metadata, tags }, noop),
);
measure("four-attribute scope, theirs: four chained setters + context.with", (i) =>
  context.with(
    oi.setTags(oi.setMetadata(oi.setUser(oi.setSession(context.active(), { sessionId: id(i) }), { userId: "u-1" }), metadata), tags),
    noop,
  ),
);

// A scope and its spans: both costs together, as a turn pays them. A new id
// each time computes the scope's attributes in the core; the same id again
// (each turn of one conversation) finds them computed.
const three = (tracer) => () => {
  tracer.startSpan("a").end();
  tracer.startSpan("b").end();
  tracer.startSpan("c").end();
};
measure("turn: session scope + one span, ours, a new id each time", (i) =>
  s.withSession(id(i), () => ours.startSpan("op").end()),
);
measure("turn: session scope + one span, ours, the same id again", () =>
  s.withSession(IDS[0], () => ours.startSpan("op").end()),
);
measure("turn: session scope + one span, theirs (OITracer)", (i) =>
  context.with(oi.setSession(context.active(), { sessionId: id(i) }), () => theirs.startSpan("op").end()),
);
measure("turn: session scope + three spans, ours, a new id each time", (i) => s.withSession(id(i), three(ours)));
measure("turn: session scope + three spans, theirs (OITracer)", (i) =>
  context.with(oi.setSession(context.active(), { sessionId: id(i) }), three(theirs)),
);

for (const c of cases) c.run(); // warm-up
for (let r = 0; r < ROUNDS; r++) for (const c of cases) c.rounds.push(c.run());

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const byName = new Map(cases.map((c) => [c.name, c.rounds]));
const results = {};
const round3 = (v) => Math.round(v * 1000) / 1000;
for (const c of cases) results[c.name] = round3(median(c.rounds));
const adds = (name, base) => {
  const a = byName.get(name);
  const b = byName.get(base);
  return round3(median(a.map((v, i) => v - b[i])));
};
const bare = "bare span (no processor)";
const noopBase = "bare span (a no-op processor)";
const derived = {
  "adds: a session to a span, ours": adds("span in a session, our processor", noopBase),
  "adds: a four-attribute scope to a span, ours": adds("span in a four-attribute scope, our processor", noopBase),
  "adds: their session to a span, our processor": adds("span in their session, our processor", noopBase),
  "adds: a session to a span, theirs (OITracer)": adds("span in a session, their OITracer", bare),
  "adds: a session to a span, theirs (getAttributesFromContext by hand)": adds(
    "span in a session, their getAttributesFromContext by hand",
    bare,
  ),
  "adds: a fixed attribute to a span": adds("span with a fixed session.id attribute", bare),
  "adds: our processor to a span outside any session": adds("span outside any session, our processor", noopBase),
  "adds: our processor to a child span outside any session": adds(
    "child span outside any session, our processor",
    "child span outside any session, a no-op processor",
  ),
};
Object.assign(results, derived);

if (process.argv.includes("--json")) {
  console.log(JSON.stringify({ node: process.version, batch: BATCH, rounds: ROUNDS, results }, null, 2));
} else {
  console.log(`node ${process.version}, ${ROUNDS} interleaved rounds of ${BATCH} calls per case, medians, µs per call`);
  const width = Math.max(...Object.keys(results).map((k) => k.length));
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(width)}  ${v.toFixed(3)}`);
}
