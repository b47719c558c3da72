// `SessionSpanProcessor`: stamps the session context attributes on every span
// at start, whatever library started it.

import { context, diag } from "@opentelemetry/api";
import type { AttributeValue, Context } from "@opentelemetry/api";
import { aliasBits } from "./api";
import type { AliasOptions } from "./api";
import { SessionContext, scopeIn } from "./context";

/** What the processor needs of a span: `@opentelemetry/sdk-trace-base`'s `Span` has it. */
export interface StampableSpan {
  setAttribute(key: string, value: AttributeValue): unknown;
  readonly attributes?: Readonly<Record<string, AttributeValue | undefined>>;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

/**
 * Add once, at start-up:
 * `new BasicTracerProvider({ spanProcessors: [new SessionSpanProcessor(), ...] })`.
 *
 * The attributes come from the parent context the SDK hands over: this
 * package's scopes, `@arizeai/openinference-core`'s setters, and (when baggage
 * propagation is on) W3C Baggage. The context wins over a value a library sets
 * at span start, so a library stamping its own `session.id` cannot split the
 * application's session.
 *
 * `aliases` also writes the keys of other conventions: `"gen_ai"`
 * (`gen_ai.conversation.id`), `"langsmith"`, `"traceloop"`.
 *
 * Tags are an array of strings on every span it sees, as in Python.
 * OpenInference JS writes `tag.tags` as JSON text, and its `OITracer` does so
 * right after a span starts; before the span ends (`onEnding`), the processor
 * turns such text back into the array it holds. The same tags, one shape.
 *
 * Never throws into the application: a failure is logged with `diag` and the
 * span goes on.
 */
export class SessionSpanProcessor {
  private readonly bits: number;

  constructor(options?: AliasOptions) {
    this.bits = aliasBits(options);
  }

  onStart(span: StampableSpan, parentContext?: Context): void {
    try {
      const ctx = parentContext ?? context.active();
      const scope = ctx instanceof SessionContext ? ctx.scope : scopeIn(ctx);
      if (scope === undefined) return;
      const pairs = scope.spanAttributes(this.bits);
      for (let i = 0; i < pairs.length; i += 2) {
        span.setAttribute(pairs[i] as string, pairs[i + 1] as AttributeValue);
      }
    } catch (error) {
      diag.warn("openinference-session: could not stamp session attributes on a span", error);
    }
  }

  onEnding(span: StampableSpan): void {
    try {
      const tags = span.attributes?.["tag.tags"];
      if (typeof tags !== "string") return;
      const parsed: unknown = JSON.parse(tags);
      if (isStringArray(parsed)) span.setAttribute("tag.tags", parsed);
    } catch {
      // not JSON: somebody's own string, left as it is
    }
  }

  onEnd(_span: unknown): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
