import type { Attributes as SpanAttributes, Context } from "@opentelemetry/api";
/** A session: the conversation a span belongs to. */
export interface Session {
    sessionId: string;
}
/** The end user of the application. */
export interface User {
    userId: string;
}
/** Free-form metadata: a plain object of JSON values. */
export type Metadata = Record<string, unknown>;
/** Tags, strings. */
export type Tags = string[];
/** A prompt template, its variables and version. */
export interface PromptTemplate {
    template: string;
    variables?: Record<string, unknown>;
    version?: string;
}
/**
 * Everything a scope may set at once; what is left out (or `undefined`) is
 * inherited from the scope around it.
 */
export interface ContextAttributesInit {
    sessionId?: string;
    userId?: string;
    metadata?: Metadata;
    tags?: Tags;
    promptTemplate?: string;
    promptTemplateVersion?: string;
    promptTemplateVariables?: Record<string, unknown>;
    /** Free-form span attributes: string, number, boolean or an array of one of those. */
    attributes?: SpanAttributes;
}
/** Options of `getAttributesFromContext` and `SessionSpanProcessor`. */
export interface AliasOptions {
    /** Also write the keys of other conventions: `"gen_ai"`, `"langsmith"`, `"traceloop"`. */
    aliases?: readonly string[];
}
/** The largest id (session, user, template version) or tag, in bytes. */
export declare const MAX_ID_BYTES: number;
/** A new context in which spans carry `session.id = session.sessionId`. */
export declare function setSession(ctx: Context, session: Session): Context;
/** The session in effect in `ctx`, if any. */
export declare function getSession(ctx: Context): Session | undefined;
/** A new context without the session (the other attributes stay). */
export declare function clearSession(ctx: Context): Context;
/** A new context in which spans carry `user.id = user.userId`. */
export declare function setUser(ctx: Context, user: User): Context;
/** The user in effect in `ctx`, if any. */
export declare function getUser(ctx: Context): User | undefined;
/** A new context without the user. */
export declare function clearUser(ctx: Context): Context;
/** A new context whose metadata is `metadata` merged into the metadata in effect. */
export declare function setMetadata(ctx: Context, metadata: Metadata): Context;
/** The metadata in effect in `ctx` (a new object), if any. */
export declare function getMetadata(ctx: Context): Metadata | undefined;
/** A new context without metadata. */
export declare function clearMetadata(ctx: Context): Context;
/** A new context whose tags are the tags in effect plus `tags`. */
export declare function setTags(ctx: Context, tags: Tags): Context;
/** The tags in effect in `ctx` (a new array), if any. */
export declare function getTags(ctx: Context): Tags | undefined;
/** A new context without tags. */
export declare function clearTags(ctx: Context): Context;
/** A new context with the prompt template (and its variables and version). */
export declare function setPromptTemplate(ctx: Context, promptTemplate: PromptTemplate): Context;
/** The prompt template in effect in `ctx`, if any part of it is set. */
export declare function getPromptTemplate(ctx: Context): Partial<PromptTemplate> | undefined;
/** A new context without the prompt template, its variables and version. */
export declare function clearPromptTemplate(ctx: Context): Context;
/** A new context whose free-form span attributes are `attributes` merged into those in effect. */
export declare function setAttributes(ctx: Context, attributes: SpanAttributes): Context;
/** The free-form span attributes in effect in `ctx` (a new object), if any. */
export declare function getAttributes(ctx: Context): SpanAttributes | undefined;
/** A new context without free-form span attributes. */
export declare function clearAttributes(ctx: Context): Context;
/** A new context in which the attributes of `init` are set (see `ContextAttributesInit`). */
export declare function setContextAttributes(ctx: Context, init: ContextAttributesInit): Context;
declare function aliasBits(options: AliasOptions | undefined): number;
/**
 * The span attributes a span started in `ctx` (default: the active context)
 * gets from the session context: exactly what `SessionSpanProcessor` stamps.
 * `metadata` is JSON text and `tag.tags` an array of strings. A new object,
 * yours to change:
 *
 * ```ts
 * tracer.startActiveSpan("step", { attributes: getAttributesFromContext(context.active()) }, fn);
 * ```
 */
export declare function getAttributesFromContext(ctx?: Context, options?: AliasOptions): SpanAttributes;
/** `getAttributesFromContext`, under the name the Python package uses. */
export declare const getContextAttributes: typeof getAttributesFromContext;
type Fn<A extends unknown[], R> = (...args: A) => R;
/**
 * Runs `fn` with the session set in the active context: every span started in
 * it, across `await`, carries `session.id`. Needs a context manager
 * (`AsyncLocalStorageContextManager`, which `NodeTracerProvider` registers).
 */
export declare function withSession<A extends unknown[], R>(sessionId: string, fn: Fn<A, R>, thisArg?: ThisParameterType<Fn<A, R>>, ...args: A): R;
/** Runs `fn` with the user set in the active context. */
export declare function withUser<A extends unknown[], R>(userId: string, fn: Fn<A, R>, thisArg?: ThisParameterType<Fn<A, R>>, ...args: A): R;
/** Runs `fn` with `metadata` merged into the metadata in effect. */
export declare function withMetadata<A extends unknown[], R>(metadata: Metadata, fn: Fn<A, R>, thisArg?: ThisParameterType<Fn<A, R>>, ...args: A): R;
/** Runs `fn` with `tags` added to the tags in effect. */
export declare function withTags<A extends unknown[], R>(tags: Tags, fn: Fn<A, R>, thisArg?: ThisParameterType<Fn<A, R>>, ...args: A): R;
/** Runs `fn` with the prompt template set. */
export declare function withPromptTemplate<A extends unknown[], R>(promptTemplate: PromptTemplate, fn: Fn<A, R>, thisArg?: ThisParameterType<Fn<A, R>>, ...args: A): R;
/**
 * Runs `fn` with several attributes set at once (the Python package's
 * `using_attributes`): `withAttributes({ sessionId, userId, metadata, tags }, fn)`.
 */
export declare function withAttributes<A extends unknown[], R>(init: ContextAttributesInit, fn: Fn<A, R>, thisArg?: ThisParameterType<Fn<A, R>>, ...args: A): R;
/**
 * Turns W3C Baggage propagation of the session on or off (off by default).
 *
 * When on, scopes also put `session.id` and `user.id` in the baggage, which a
 * propagator sends to downstream services; and the span processor falls back
 * to those entries when the context holds no session. Turn it on in both
 * services: inbound baggage is untrusted, so reading it is never the default.
 */
export declare function setBaggagePropagation(enabled: boolean): void;
export { aliasBits };
