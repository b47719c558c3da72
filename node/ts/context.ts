// Session attributes in the OpenTelemetry JS context (AsyncLocalStorage through
// the context manager), never in Rust state.
//
// Entering a scope makes one `SessionContext`: the context it was opened in,
// plus the `Scope` in effect. A `SessionContext` answers OpenInference's own
// context keys (`Symbol.for("OpenInference SDK Context Key <attribute>")`) with
// the values OpenInference JS would have written, so its packages read what we
// set; and it answers a private key with the `Scope`, whose span attributes are
// computed once by the core and then only copied onto spans.
//
// Why a context class of our own: `Context` is an interface in
// `@opentelemetry/api`, and its base implementation copies every entry on each
// `setValue`. Writing nine keys that way would cost nine copies per scope; this
// class costs one small object, and `setValue` for any other key (the active
// span, baggage) keeps it. Setting one of OpenInference's keys on it turns it
// into a plain context holding all our values; `scopeIn` then sees that those
// keys no longer hold what we wrote and reads them afresh.

import { ROOT_CONTEXT, createContextKey, diag, propagation } from "@opentelemetry/api";
import type { AttributeValue, Context } from "@opentelemetry/api";
import native = require("../native/index.js");

// The core's keys, read once at load: the order of the context values, where
// each attribute sits in them, and the baggage entries.
const CORE_KEYS = native.coreKeys();

/** OpenInference's context attribute names, in the order of the core's context values. */
export const CONTEXT_ATTRIBUTE_NAMES: readonly string[] = Object.freeze(CORE_KEYS.contextKeys);

/** OpenInference JS's context keys, shared with `@arizeai/openinference-core`. */
export const CONTEXT_KEYS: readonly symbol[] = CONTEXT_ATTRIBUTE_NAMES.map((name) =>
  createContextKey(`OpenInference SDK Context Key ${name}`),
);

/** Where each attribute's value sits in the context values (the core's slots). */
export const Slot: Readonly<native.ContextSlots> = Object.freeze(CORE_KEYS.slots);
/** A position in the context values: one of `Slot`'s. */
export type Slot = number;

const BAGGAGE_SESSION_ID = CORE_KEYS.baggageSessionId;
const BAGGAGE_USER_ID = CORE_KEYS.baggageUserId;

const SLOT_OF_KEY = new Map<symbol, number>(CONTEXT_KEYS.map((key, slot) => [key, slot]));

// Private and unregistered: another copy of this package keeps its own scopes,
// and reads ours through OpenInference's keys like any other package would.
const SCOPE_KEY: symbol = Symbol("openinference-session scope");

/** Process-wide switches: configuration, not context. */
export const settings = { baggage: false };

type ContextValues = readonly (string | undefined)[];

/**
 * Span attributes as the core returns them: one flat array, key then value,
 * in the core's order. Shared by every span of a scope: the arrays inside are
 * frozen.
 */
export type SpanAttributePairs = readonly (string | AttributeValue)[];

/**
 * What one scope sets, as the core reads it (one JSON object, camelCase
 * names): ids and the prompt template as strings, tags as an array, objects
 * as JSON text made when the scope opened.
 */
export interface ScopeInit {
  sessionId?: string;
  userId?: string;
  metadataJson?: string;
  tags?: string[];
  promptTemplate?: string;
  promptTemplateVersion?: string;
  promptTemplateVariablesJson?: string;
  attributesJson?: string;
}

function spanPairs(json: string): SpanAttributePairs {
  const pairs = JSON.parse(json) as (string | AttributeValue)[];
  for (let i = 1; i < pairs.length; i += 2) {
    const value = pairs[i];
    if (Array.isArray(value)) Object.freeze(value);
  }
  return Object.freeze(pairs);
}

/** What the core computes for a scope: its context values and its span attributes without aliases. */
interface Resolved {
  readonly json: string;
  readonly span: SpanAttributePairs;
}

function resolveIn(outerJson: string | null, spec: string): Resolved {
  const out = native.effective(outerJson, spec);
  const newline = out.indexOf("\n");
  return { json: out.slice(0, newline), span: spanPairs(out.slice(newline + 1)) };
}

// Top-level scopes recur: the same session opened again and again, a turn after
// a turn or a call after a call of one conversation. The last few top-level
// scopes' results are kept, keyed by the scope's JSON (they are immutable, so
// sharing them is safe). Few on purpose: a large cache thrashed by many
// concurrent conversations costs more in garbage collection than it saves.
const RECENT = 8;
const recentSpecs: (string | undefined)[] = new Array<string | undefined>(RECENT).fill(undefined);
const recentResolved: (Resolved | undefined)[] = new Array<Resolved | undefined>(RECENT).fill(undefined);
let recentNext = 0;

function topLevel(spec: string): Resolved {
  for (let i = 0; i < RECENT; i++) {
    if (recentSpecs[i] === spec) return recentResolved[i] as Resolved;
  }
  const resolved = resolveIn(null, spec);
  recentSpecs[recentNext] = spec;
  recentResolved[recentNext] = resolved;
  recentNext = (recentNext + 1) % RECENT;
  return resolved;
}

/**
 * The attributes in effect in a context, held as their context values (JSON
 * text from the core). Immutable. What the core computes for it (the merge
 * with the outer scope, the span attributes per alias set) is computed on
 * first use and kept: opening a scope costs a check, and spans only copy.
 */
export class Scope {
  private json: string | undefined;
  private values: ContextValues | undefined;
  private outer: Scope | undefined;
  private spec: ScopeInit | undefined;
  /** Span attributes without aliases (what nearly every processor asks for), then per alias set. */
  private span0: SpanAttributePairs | undefined;
  private spanAliased: (SpanAttributePairs | undefined)[] | undefined;

  private constructor(json: string | undefined, outer: Scope | undefined, spec: ScopeInit | undefined) {
    this.json = json;
    this.outer = outer;
    this.spec = spec;
  }

  /** The scope whose context values are the JSON text `valuesJson`. */
  static of(valuesJson: string): Scope {
    return new Scope(valuesJson, undefined, undefined);
  }

  /**
   * The scope in effect when a scope setting `spec` (checked already, and
   * holding only strings and a copied tag array) opens within `outer`.
   */
  static within(outer: Scope | undefined, spec: ScopeInit): Scope {
    return new Scope(undefined, outer, spec);
  }

  private resolve(): string {
    const spec = JSON.stringify(this.spec);
    const resolved = this.outer === undefined ? topLevel(spec) : resolveIn(this.outer.valuesJson(), spec);
    this.json = resolved.json;
    this.span0 = resolved.span;
    this.outer = undefined;
    this.spec = undefined;
    return resolved.json;
  }

  /** The context values as the core's JSON text. */
  valuesJson(): string {
    return this.json ?? this.resolve();
  }

  /** The values under OpenInference's keys, in `CONTEXT_KEYS` order. */
  contextValues(): ContextValues {
    let values = this.values;
    if (values === undefined) {
      values = Object.freeze(
        (JSON.parse(this.valuesJson()) as (string | null)[]).map((v) => v ?? undefined),
      );
      this.values = values;
    }
    return values;
  }

  /** The span attributes for the alias set `bits`; shared and frozen. */
  spanAttributes(bits: number): SpanAttributePairs {
    const json = this.valuesJson();
    if (bits === 0) return (this.span0 ??= spanPairs(native.spanAttributesJson(json, 0)));
    const cache = (this.spanAliased ??= []);
    let pairs = cache[bits];
    if (pairs === undefined) {
      pairs = spanPairs(native.spanAttributesJson(json, bits));
      cache[bits] = pairs;
    }
    return pairs;
  }
}

/** A context with a session scope open in it (see the module comment). */
export class SessionContext implements Context {
  constructor(
    readonly base: Context,
    readonly scope: Scope,
  ) {}

  getValue(key: symbol): unknown {
    if (key === SCOPE_KEY) return this.scope;
    const slot = SLOT_OF_KEY.get(key);
    return slot === undefined ? this.base.getValue(key) : this.scope.contextValues()[slot];
  }

  setValue(key: symbol, value: unknown): Context {
    if (key === SCOPE_KEY || SLOT_OF_KEY.has(key)) return this.flatten().setValue(key, value);
    return new SessionContext(this.base.setValue(key, value), this.scope);
  }

  deleteValue(key: symbol): Context {
    if (key === SCOPE_KEY || SLOT_OF_KEY.has(key)) return this.flatten().deleteValue(key);
    return new SessionContext(this.base.deleteValue(key), this.scope);
  }

  /** The same values in a plain context. */
  private flatten(): Context {
    const values = this.scope.contextValues();
    let ctx = this.base;
    for (let slot = 0; slot < CONTEXT_KEYS.length; slot++) {
      ctx = ctx.setValue(CONTEXT_KEYS[slot], values[slot]);
    }
    return ctx.setValue(SCOPE_KEY, this.scope);
  }
}

function warn(message: string): void {
  diag.warn(`openinference-session: ${message}`);
}

function valuesIn(ctx: Context): unknown[] {
  const values = new Array<unknown>(CONTEXT_KEYS.length);
  for (let slot = 0; slot < CONTEXT_KEYS.length; slot++) values[slot] = ctx.getValue(CONTEXT_KEYS[slot]);
  return values;
}

function sameValues(a: readonly unknown[], b: readonly unknown[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// One-entry cache for contexts filled by another package: the spans of one
// foreign scope share the same values, so the last reading is usually the one
// needed again.
let lastForeign: { values: unknown[]; scope: Scope | undefined } | undefined;

function foreignText(values: unknown[], slot: Slot, problems: string[]): string | undefined {
  const value = values[slot];
  if (value === undefined || value === null || typeof value === "string") return value ?? undefined;
  problems.push(`${CONTEXT_ATTRIBUTE_NAMES[slot]} must be a string, not ${typeof value}`);
  return undefined;
}

/** Reads the values another package left under OpenInference's keys, leniently. */
function readForeign(values: unknown[]): Scope | undefined {
  const problems: string[] = [];
  const tags = values[Slot.tags];
  // OpenInference JS keeps tags as JSON text; a list (the Python shape) is read too.
  const tagList =
    Array.isArray(tags) && tags.every((t) => typeof t === "string") ? (tags as string[]) : undefined;
  const read = native.readForeign({
    sessionId: foreignText(values, Slot.sessionId, problems),
    userId: foreignText(values, Slot.userId, problems),
    metadata: foreignText(values, Slot.metadata, problems),
    tags: tagList,
    tagsJson: tagList === undefined ? foreignText(values, Slot.tags, problems) : undefined,
    promptTemplate: foreignText(values, Slot.promptTemplate, problems),
    promptTemplateVersion: foreignText(values, Slot.promptTemplateVersion, problems),
    promptTemplateVariables: foreignText(values, Slot.promptTemplateVariables, problems),
    attributes: foreignText(values, Slot.attributes, problems),
  });
  for (const problem of problems.concat(read.problems)) {
    warn(`ignoring a session context value: ${problem}`);
  }
  return read.valuesJson == null ? undefined : Scope.of(read.valuesJson);
}

function foreignScope(values: unknown[]): Scope | undefined {
  const cached = lastForeign;
  if (cached !== undefined && sameValues(cached.values, values)) return cached.scope;
  const scope = readForeign(values);
  lastForeign = { values, scope };
  return scope;
}

function baggageScope(ctx: Context): Scope | undefined {
  const bag = propagation.getBaggage(ctx);
  if (bag === undefined) return undefined;
  const sessionId = bag.getEntry(BAGGAGE_SESSION_ID)?.value;
  const userId = bag.getEntry(BAGGAGE_USER_ID)?.value;
  if (sessionId === undefined && userId === undefined) return undefined;
  // Inbound baggage is untrusted: values that do not validate are ignored.
  const read = native.readForeign({ sessionId, userId });
  for (const problem of read.problems) warn(`ignoring a baggage value: ${problem}`);
  return read.valuesJson == null ? undefined : Scope.of(read.valuesJson);
}

/** The scope in effect in `ctx`, whoever set it; undefined outside any session. */
export function scopeIn(ctx: Context): Scope | undefined {
  if (ctx instanceof SessionContext) return ctx.scope;
  if (ctx === ROOT_CONTEXT) return undefined; // spans outside any context: nothing to read
  const own = ctx.getValue(SCOPE_KEY);
  const values = valuesIn(ctx);
  if (own instanceof Scope && sameValues(values, own.contextValues())) return own;
  // Another package set (or cleared) OpenInference's keys, maybe inside our
  // scope. Those keys hold everything a scope sets, free-form attributes
  // included, so they are read whole: a value they dropped is dropped.
  for (let slot = 0; slot < values.length; slot++) {
    if (values[slot] !== undefined) return foreignScope(values);
  }
  return settings.baggage ? baggageScope(ctx) : undefined;
}

function withBaggage(ctx: Context, scope: Scope): Context {
  const values = scope.contextValues();
  const sessionId = values[Slot.sessionId];
  const userId = values[Slot.userId];
  if (sessionId === undefined && userId === undefined) return ctx;
  let bag = propagation.getBaggage(ctx) ?? propagation.createBaggage();
  if (sessionId !== undefined) bag = bag.setEntry(BAGGAGE_SESSION_ID, { value: sessionId });
  if (userId !== undefined) bag = bag.setEntry(BAGGAGE_USER_ID, { value: userId });
  return propagation.setBaggage(ctx, bag);
}

/** A new context in which a scope setting `spec` (checked already) is open within `ctx`. */
export function enter(ctx: Context, spec: ScopeInit): Context {
  let base: Context;
  let outer: Scope | undefined;
  if (ctx instanceof SessionContext) {
    base = ctx.base;
    outer = ctx.scope;
  } else {
    base = ctx;
    outer = scopeIn(ctx);
  }
  const scope = Scope.within(outer, spec);
  if (settings.baggage) base = withBaggage(base, scope);
  return new SessionContext(base, scope);
}

/** A new context without one attribute. */
export function clear(ctx: Context, slot: Slot): Context {
  const scope = scopeIn(ctx);
  if (scope === undefined) return ctx.deleteValue(CONTEXT_KEYS[slot]);
  let base = ctx instanceof SessionContext ? ctx.base : ctx;
  if (settings.baggage && (slot === Slot.sessionId || slot === Slot.userId)) {
    const bag = propagation.getBaggage(base);
    if (bag !== undefined) {
      const entry = slot === Slot.sessionId ? BAGGAGE_SESSION_ID : BAGGAGE_USER_ID;
      base = propagation.setBaggage(base, bag.removeEntry(entry));
    }
  }
  return new SessionContext(base, Scope.of(native.without(scope.valuesJson(), slot)));
}
