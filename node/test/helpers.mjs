// Shared set-up: the AsyncLocalStorage context manager (what NodeTracerProvider
// registers) and a real SDK tracer provider with our processor and an
// in-memory exporter.
import { context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { SessionSpanProcessor } from "openinference-session";

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

export function traced(options) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new SessionSpanProcessor(options), new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer("tests");
  return {
    provider,
    exporter,
    tracer,
    /** Starts and ends a span named `name` in the active context. */
    span(name, attributes) {
      tracer.startSpan(name, { attributes }).end();
    },
    spans: () => exporter.getFinishedSpans(),
    /** The attributes of the one span named `name`. */
    attrs(name) {
      const found = exporter.getFinishedSpans().filter((s) => s.name === name);
      if (found.length !== 1) throw new Error(`expected one span ${name}, got ${found.length}`);
      return { ...found[0].attributes };
    },
  };
}

export const tick = () => new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
