// Span attributes from the Node package for every case of cases.json, in the
// canonical form all three dumpers share (see README.md).
import { readFileSync } from "node:fs";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { SessionSpanProcessor, setContextAttributes } from "openinference-session";

function double(value) {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  return { double: view.getBigUint64(0).toString(16).padStart(16, "0") };
}

// JavaScript has one number type. A scalar is an int when it is integral (what
// the OTLP exporter sends); a list of numbers is a list of doubles as soon as
// one is not integral, since an OpenTelemetry list holds one type.
function canonical(value) {
  if (Array.isArray(value)) {
    const doubles = value.some((v) => typeof v === "number" && !Number.isInteger(v));
    return { array: value.map((v) => (doubles ? double(v) : canonical(v))) };
  }
  switch (typeof value) {
    case "string":
      return { string: value };
    case "boolean":
      return { bool: value };
    case "number":
      return Number.isInteger(value) ? { int: value } : double(value);
  }
  throw new Error(`unexpected attribute value ${value}`);
}

const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = [];
for (const c of cases) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new SessionSpanProcessor({ aliases: c.aliases ?? [] }), new SimpleSpanProcessor(exporter)],
  });
  const ctx = c.scopes.reduce((ctx, scope) => setContextAttributes(ctx, scope), ROOT_CONTEXT);
  provider.getTracer("dump").startSpan(c.name, {}, ctx).end();
  const [span] = exporter.getFinishedSpans();
  out.push({ name: c.name, attributes: Object.entries(span.attributes).map(([k, v]) => [k, canonical(v)]) });
}
process.stdout.write(`${JSON.stringify(out)}\n`);
