/** How a value reads in an error message: "a number", "null", "a Date". */
export declare function describe(value: unknown): string;
export declare function isPlainObject(value: unknown): value is Record<string, unknown>;
export declare function checkString(value: unknown, name: string): string;
export declare function checkObject(value: unknown, name: string): Record<string, unknown>;
export declare function checkTags(value: unknown, name?: string): string[];
/** Checks a plain object of JSON values (metadata, template variables). */
export declare function checkJsonObject(value: unknown, name: string): Record<string, unknown>;
/** Checks free-form span attributes (string, number, boolean or a list of one). */
export declare function checkAttributes(value: unknown, name?: string): Record<string, unknown>;
