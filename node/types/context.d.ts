import type { AttributeValue, Context } from "@opentelemetry/api";
import native = require("../native/index.js");
/** OpenInference's context attribute names, in the order of the core's context values. */
export declare const CONTEXT_ATTRIBUTE_NAMES: readonly string[];
/** OpenInference JS's context keys, shared with `@arizeai/openinference-core`. */
export declare const CONTEXT_KEYS: readonly symbol[];
/** Where each attribute's value sits in the context values (the core's slots). */
export declare const Slot: Readonly<native.ContextSlots>;
/** A position in the context values: one of `Slot`'s. */
export type Slot = number;
/** Process-wide switches: configuration, not context. */
export declare const settings: {
    baggage: boolean;
};
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
/**
 * The attributes in effect in a context, held as their context values (JSON
 * text from the core). Immutable. What the core computes for it (the merge
 * with the outer scope, the span attributes per alias set) is computed on
 * first use and kept: opening a scope costs a check, and spans only copy.
 */
export declare class Scope {
    private json;
    private values;
    private outer;
    private spec;
    /** Span attributes without aliases (what nearly every processor asks for), then per alias set. */
    private span0;
    private spanAliased;
    private constructor();
    /** The scope whose context values are the JSON text `valuesJson`. */
    static of(valuesJson: string): Scope;
    /**
     * The scope in effect when a scope setting `spec` (checked already, and
     * holding only strings and a copied tag array) opens within `outer`.
     */
    static within(outer: Scope | undefined, spec: ScopeInit): Scope;
    private resolve;
    /** The context values as the core's JSON text. */
    valuesJson(): string;
    /** The values under OpenInference's keys, in `CONTEXT_KEYS` order. */
    contextValues(): ContextValues;
    /** The span attributes for the alias set `bits`; shared and frozen. */
    spanAttributes(bits: number): SpanAttributePairs;
}
/** A context with a session scope open in it (see the module comment). */
export declare class SessionContext implements Context {
    readonly base: Context;
    readonly scope: Scope;
    constructor(base: Context, scope: Scope);
    getValue(key: symbol): unknown;
    setValue(key: symbol, value: unknown): Context;
    deleteValue(key: symbol): Context;
    /** The same values in a plain context. */
    private flatten;
}
/** The scope in effect in `ctx`, whoever set it; undefined outside any session. */
export declare function scopeIn(ctx: Context): Scope | undefined;
/** A new context in which a scope setting `spec` (checked already) is open within `ctx`. */
export declare function enter(ctx: Context, spec: ScopeInit): Context;
/** A new context without one attribute. */
export declare function clear(ctx: Context, slot: Slot): Context;
export {};
