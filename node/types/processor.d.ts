import type { AttributeValue, Context } from "@opentelemetry/api";
import type { AliasOptions } from "./api";
/** What the processor needs of a span: `@opentelemetry/sdk-trace-base`'s `Span` has it. */
export interface StampableSpan {
    setAttribute(key: string, value: AttributeValue): unknown;
    readonly attributes?: Readonly<Record<string, AttributeValue | undefined>>;
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
export declare class SessionSpanProcessor {
    private readonly bits;
    constructor(options?: AliasOptions);
    onStart(span: StampableSpan, parentContext?: Context): void;
    onEnding(span: StampableSpan): void;
    onEnd(_span: unknown): void;
    forceFlush(): Promise<void>;
    shutdown(): Promise<void>;
}
