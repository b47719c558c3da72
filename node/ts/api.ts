// The public API, shaped like `@arizeai/openinference-core`'s so that switching
// is a one-line change: `setX(ctx, value) -> Context`, `getX(ctx)`,
// `clearX(ctx)`, plus the callback forms `withX(value, fn)`.

import { context, diag } from "@opentelemetry/api";
import type { Attributes as SpanAttributes, AttributeValue, Context } from "@opentelemetry/api";
import native = require("../native/index.js");
import { Slot, clear, enter, scopeIn, settings } from "./context";
import type { ScopeInit } from "./context";
import { checkAttributes, checkJsonObject, checkObject, checkString, checkTags, describe } from "./convert";

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
export const MAX_ID_BYTES: number = native.MAX_ID_BYTES;

// A UTF-16 code unit is at most 3 bytes of UTF-8 (a surrogate pair, two units,
// is 4), so text of at most limit / 3 code units is within a limit in bytes.
/** The most code units an id may have and certainly be within `MAX_ID_BYTES` (1,365). */
const SURELY_SHORT_ID = Math.floor(MAX_ID_BYTES / 3);
/** Text this short is within every size limit of the core on text (metadata, variables, template). */
const SURELY_SMALL = Math.floor(Math.min(native.MAX_VALUE_BYTES, native.MAX_TEMPLATE_BYTES) / 3);

/** Calls into the core, turning its refusals into TypeErrors (it names the argument). */
function core<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw new TypeError((error as Error).message);
  }
}

/**
 * Whether the core would certainly accept `id` as an id or a tag: not blank
 * (its first character is visible ASCII) and at most `SURELY_SHORT_ID` UTF-16
 * code units (so at most `MAX_ID_BYTES` UTF-8 bytes). A shortcut that saves a
 * call into Rust for the usual id, never a rule of its own: whatever it does
 * not vouch for, the core checks.
 */
function surelyValidId(id: string): boolean {
  const first = id.charCodeAt(0);
  return first > 0x20 && first < 0x7f && id.length <= SURELY_SHORT_ID;
}

function surelySmall(text: string | undefined): boolean {
  return text === undefined || text.length <= SURELY_SMALL;
}

function sessionScope(sessionId: unknown): ScopeInit {
  const id = checkString(sessionId, "sessionId");
  if (!surelyValidId(id)) core(() => native.checkSessionId(id));
  return { sessionId: id };
}

/** Checks a scope: the JavaScript types were checked by the caller, the values are checked here. */
function checked(spec: ScopeInit): ScopeInit {
  const surely =
    spec.attributesJson === undefined &&
    (spec.sessionId === undefined || surelyValidId(spec.sessionId)) &&
    (spec.userId === undefined || surelyValidId(spec.userId)) &&
    (spec.promptTemplateVersion === undefined || surelyValidId(spec.promptTemplateVersion)) &&
    (spec.tags === undefined || spec.tags.every(surelyValidId)) &&
    surelySmall(spec.metadataJson) &&
    surelySmall(spec.promptTemplate) &&
    surelySmall(spec.promptTemplateVariablesJson);
  if (!surely) core(() => native.checkScope(JSON.stringify(spec)));
  return spec;
}

const json = (value: Record<string, unknown>): string => JSON.stringify(value);

function scopeOf(init: ContextAttributesInit, name: string): ScopeInit {
  checkObject(init, name);
  const spec: ScopeInit = {};
  if (init.sessionId !== undefined) spec.sessionId = checkString(init.sessionId, "sessionId");
  if (init.userId !== undefined) spec.userId = checkString(init.userId, "userId");
  if (init.metadata !== undefined) spec.metadataJson = json(checkJsonObject(init.metadata, "metadata"));
  if (init.tags !== undefined) spec.tags = checkTags(init.tags).slice();
  if (init.promptTemplate !== undefined) {
    spec.promptTemplate = checkString(init.promptTemplate, "promptTemplate");
  }
  if (init.promptTemplateVersion !== undefined) {
    spec.promptTemplateVersion = checkString(init.promptTemplateVersion, "promptTemplateVersion");
  }
  if (init.promptTemplateVariables !== undefined) {
    spec.promptTemplateVariablesJson = json(checkJsonObject(init.promptTemplateVariables, "promptTemplateVariables"));
  }
  if (init.attributes !== undefined) spec.attributesJson = json(checkAttributes(init.attributes));
  return checked(spec);
}

function checkContext(ctx: unknown): Context {
  if (ctx === null || typeof ctx !== "object" || typeof (ctx as Context).getValue !== "function") {
    throw new TypeError(`context must be an OpenTelemetry Context, not ${describe(ctx)}`);
  }
  return ctx as Context;
}

function value(ctx: Context, slot: Slot): string | undefined {
  return scopeIn(checkContext(ctx))?.contextValues()[slot];
}

function parsed(ctx: Context, slot: Slot): unknown {
  const text = value(ctx, slot);
  return text === undefined ? undefined : JSON.parse(text);
}

// ---- session ----------------------------------------------------------------

/** A new context in which spans carry `session.id = session.sessionId`. */
export function setSession(ctx: Context, session: Session): Context {
  checkContext(ctx);
  checkObject(session, "session");
  return enter(ctx, sessionScope(session.sessionId));
}

/** The session in effect in `ctx`, if any. */
export function getSession(ctx: Context): Session | undefined {
  const sessionId = value(ctx, Slot.sessionId);
  return sessionId === undefined ? undefined : { sessionId };
}

/** A new context without the session (the other attributes stay). */
export function clearSession(ctx: Context): Context {
  return clear(checkContext(ctx), Slot.sessionId);
}

// ---- user -------------------------------------------------------------------

/** A new context in which spans carry `user.id = user.userId`. */
export function setUser(ctx: Context, user: User): Context {
  checkContext(ctx);
  checkObject(user, "user");
  return enter(ctx, checked({ userId: checkString(user.userId, "userId") }));
}

/** The user in effect in `ctx`, if any. */
export function getUser(ctx: Context): User | undefined {
  const userId = value(ctx, Slot.userId);
  return userId === undefined ? undefined : { userId };
}

/** A new context without the user. */
export function clearUser(ctx: Context): Context {
  return clear(checkContext(ctx), Slot.userId);
}

// ---- metadata -----------------------------------------------------------------

/** A new context whose metadata is `metadata` merged into the metadata in effect. */
export function setMetadata(ctx: Context, metadata: Metadata): Context {
  checkContext(ctx);
  return enter(ctx, checked({ metadataJson: json(checkJsonObject(metadata, "metadata")) }));
}

/** The metadata in effect in `ctx` (a new object), if any. */
export function getMetadata(ctx: Context): Metadata | undefined {
  return parsed(ctx, Slot.metadata) as Metadata | undefined;
}

/** A new context without metadata. */
export function clearMetadata(ctx: Context): Context {
  return clear(checkContext(ctx), Slot.metadata);
}

// ---- tags ---------------------------------------------------------------------

/** A new context whose tags are the tags in effect plus `tags`. */
export function setTags(ctx: Context, tags: Tags): Context {
  checkContext(ctx);
  return enter(ctx, checked({ tags: checkTags(tags).slice() }));
}

/** The tags in effect in `ctx` (a new array), if any. */
export function getTags(ctx: Context): Tags | undefined {
  return parsed(ctx, Slot.tags) as Tags | undefined;
}

/** A new context without tags. */
export function clearTags(ctx: Context): Context {
  return clear(checkContext(ctx), Slot.tags);
}

// ---- prompt template ------------------------------------------------------------

/** A new context with the prompt template (and its variables and version). */
export function setPromptTemplate(ctx: Context, promptTemplate: PromptTemplate): Context {
  checkContext(ctx);
  checkObject(promptTemplate, "promptTemplate");
  const { template, variables, version } = promptTemplate;
  checkString(template, "template");
  return enter(
    ctx,
    scopeOf(
      { promptTemplate: template, promptTemplateVariables: variables, promptTemplateVersion: version },
      "promptTemplate",
    ),
  );
}

/** The prompt template in effect in `ctx`, if any part of it is set. */
export function getPromptTemplate(ctx: Context): Partial<PromptTemplate> | undefined {
  const scope = scopeIn(checkContext(ctx));
  if (scope === undefined) return undefined;
  const values = scope.contextValues();
  const out: Partial<PromptTemplate> = {};
  const template = values[Slot.promptTemplate];
  const variables = values[Slot.promptTemplateVariables];
  const version = values[Slot.promptTemplateVersion];
  if (template !== undefined) out.template = template;
  if (variables !== undefined) out.variables = JSON.parse(variables) as Record<string, unknown>;
  if (version !== undefined) out.version = version;
  return Object.keys(out).length === 0 ? undefined : out;
}

/** A new context without the prompt template, its variables and version. */
export function clearPromptTemplate(ctx: Context): Context {
  return clear(checkContext(ctx), Slot.promptTemplate);
}

// ---- free-form attributes -------------------------------------------------------

/** A new context whose free-form span attributes are `attributes` merged into those in effect. */
export function setAttributes(ctx: Context, attributes: SpanAttributes): Context {
  checkContext(ctx);
  return enter(ctx, checked({ attributesJson: json(checkAttributes(attributes)) }));
}

/** The free-form span attributes in effect in `ctx` (a new object), if any. */
export function getAttributes(ctx: Context): SpanAttributes | undefined {
  return parsed(ctx, Slot.attributes) as SpanAttributes | undefined;
}

/** A new context without free-form span attributes. */
export function clearAttributes(ctx: Context): Context {
  return clear(checkContext(ctx), Slot.attributes);
}

// ---- several at once ----------------------------------------------------------

/** A new context in which the attributes of `init` are set (see `ContextAttributesInit`). */
export function setContextAttributes(ctx: Context, init: ContextAttributesInit): Context {
  checkContext(ctx);
  return enter(ctx, scopeOf(init, "attributes"));
}

function aliasBits(options: AliasOptions | undefined): number {
  if (options === undefined) return 0;
  checkObject(options, "options");
  if (options.aliases === undefined) return 0;
  const names = checkTags(options.aliases, "aliases");
  return core(() => native.parseAliases(names));
}

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
export function getAttributesFromContext(ctx: Context = context.active(), options?: AliasOptions): SpanAttributes {
  const bits = aliasBits(options);
  const scope = scopeIn(checkContext(ctx));
  const out: SpanAttributes = {};
  if (scope === undefined) return out;
  const pairs = scope.spanAttributes(bits);
  for (let i = 0; i < pairs.length; i += 2) {
    const item = pairs[i + 1] as AttributeValue;
    out[pairs[i] as string] = Array.isArray(item) ? (item.slice() as AttributeValue) : item;
  }
  return out;
}

/** `getAttributesFromContext`, under the name the Python package uses. */
export const getContextAttributes = getAttributesFromContext;

// ---- callback forms -------------------------------------------------------------

type Fn<A extends unknown[], R> = (...args: A) => R;

let managerChecked = false;

/**
 * `context.with`, after checking once that a context manager is registered:
 * without one, OpenTelemetry's no-op manager runs `fn` in the root context and
 * the scope would be lost without a word.
 */
function within<A extends unknown[], R>(ctx: Context, fn: Fn<A, R>, thisArg: ThisParameterType<Fn<A, R>> | undefined, args: A): R {
  if (!managerChecked) {
    managerChecked = true;
    if (context.with(ctx, () => context.active()) !== ctx) {
      diag.warn(
        "openinference-session: no OpenTelemetry context manager is registered, so withSession and the " +
          "other with* functions cannot carry a session; register one (NodeTracerProvider.register(), or " +
          "context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()))",
      );
    }
  }
  return context.with(ctx, fn, thisArg, ...args);
}

/**
 * Runs `fn` with the session set in the active context: every span started in
 * it, across `await`, carries `session.id`. Needs a context manager
 * (`AsyncLocalStorageContextManager`, which `NodeTracerProvider` registers).
 */
export function withSession<A extends unknown[], R>(
  sessionId: string,
  fn: Fn<A, R>,
  thisArg?: ThisParameterType<Fn<A, R>>,
  ...args: A
): R {
  const scope = sessionScope(sessionId);
  return within(enter(context.active(), scope), fn, thisArg, args);
}

/** Runs `fn` with the user set in the active context. */
export function withUser<A extends unknown[], R>(
  userId: string,
  fn: Fn<A, R>,
  thisArg?: ThisParameterType<Fn<A, R>>,
  ...args: A
): R {
  return within(setUser(context.active(), { userId }), fn, thisArg, args);
}

/** Runs `fn` with `metadata` merged into the metadata in effect. */
export function withMetadata<A extends unknown[], R>(
  metadata: Metadata,
  fn: Fn<A, R>,
  thisArg?: ThisParameterType<Fn<A, R>>,
  ...args: A
): R {
  return within(setMetadata(context.active(), metadata), fn, thisArg, args);
}

/** Runs `fn` with `tags` added to the tags in effect. */
export function withTags<A extends unknown[], R>(
  tags: Tags,
  fn: Fn<A, R>,
  thisArg?: ThisParameterType<Fn<A, R>>,
  ...args: A
): R {
  return within(setTags(context.active(), tags), fn, thisArg, args);
}

/** Runs `fn` with the prompt template set. */
export function withPromptTemplate<A extends unknown[], R>(
  promptTemplate: PromptTemplate,
  fn: Fn<A, R>,
  thisArg?: ThisParameterType<Fn<A, R>>,
  ...args: A
): R {
  return within(setPromptTemplate(context.active(), promptTemplate), fn, thisArg, args);
}

/**
 * Runs `fn` with several attributes set at once (the Python package's
 * `using_attributes`): `withAttributes({ sessionId, userId, metadata, tags }, fn)`.
 */
export function withAttributes<A extends unknown[], R>(
  init: ContextAttributesInit,
  fn: Fn<A, R>,
  thisArg?: ThisParameterType<Fn<A, R>>,
  ...args: A
): R {
  return within(setContextAttributes(context.active(), init), fn, thisArg, args);
}

/**
 * Turns W3C Baggage propagation of the session on or off (off by default).
 *
 * When on, scopes also put `session.id` and `user.id` in the baggage, which a
 * propagator sends to downstream services; and the span processor falls back
 * to those entries when the context holds no session. Turn it on in both
 * services: inbound baggage is untrusted, so reading it is never the default.
 */
export function setBaggagePropagation(enabled: boolean): void {
  if (typeof enabled !== "boolean") {
    throw new TypeError(`enabled must be a boolean, not ${describe(enabled)}`);
  }
  settings.baggage = enabled;
}

export { aliasBits };
