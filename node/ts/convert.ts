// Argument checks: a wrong JavaScript type is a TypeError naming the argument,
// raised here before anything crosses into Rust. Objects cross as JSON text;
// the core validates the values (empty ids, sizes, reserved keys).

/** Deeper nesting than this is refused: it is not metadata, and a cycle ends here. */
const MAX_DEPTH = 64;

/** How a value reads in an error message: "a number", "null", "a Date". */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (Array.isArray(value)) return "an array";
  const type = typeof value;
  if (type === "object") {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === "string" && name !== "Object" ? `a ${name}` : "an object";
  }
  return `a ${type}`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function checkString(value: unknown, name: string): string {
  if (typeof value !== "string") {
    throw new TypeError(`${name} must be a string, not ${describe(value)}`);
  }
  return value;
}

export function checkObject(value: unknown, name: string): Record<string, unknown> {
  if (!isPlainObject(value)) {
    throw new TypeError(`${name} must be an object, not ${describe(value)}`);
  }
  return value;
}

export function checkTags(value: unknown, name = "tags"): string[] {
  if (!Array.isArray(value)) {
    throw new TypeError(`${name} must be an array of strings, not ${describe(value)}`);
  }
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== "string") {
      throw new TypeError(`${name}[${i}] must be a string, not ${describe(value[i])}`);
    }
  }
  return value as string[];
}

function checkJson(value: unknown, path: string, depth: number): void {
  if (depth > MAX_DEPTH) {
    throw new TypeError(`${path} is nested deeper than ${MAX_DEPTH} levels`);
  }
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) {
        throw new TypeError(`${path} is ${value}, which JSON cannot represent`);
      }
      return;
    case "object":
      if (value === null) return;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          checkJson(value[i], `${path}[${i}]`, depth + 1);
        }
        return;
      }
      if (isPlainObject(value)) {
        for (const key of Object.keys(value)) {
          const item = value[key];
          // JSON.stringify drops undefined properties, as JSON has no undefined.
          if (item !== undefined) checkJson(item, `${path}[${JSON.stringify(key)}]`, depth + 1);
        }
        return;
      }
  }
  throw new TypeError(`${path} is not JSON-serializable: ${describe(value)}`);
}

/** Checks a plain object of JSON values (metadata, template variables). */
export function checkJsonObject(value: unknown, name: string): Record<string, unknown> {
  checkJson(checkObject(value, name), name, 0);
  return value as Record<string, unknown>;
}

function checkAttributeScalar(value: unknown, path: string): void {
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) {
        throw new TypeError(`${path} is ${value}, which a span attribute cannot carry`);
      }
      return;
  }
  throw new TypeError(
    `${path} must be a string, number, boolean or an array of one of those, not ${describe(value)}`,
  );
}

/** Checks free-form span attributes (string, number, boolean or a list of one). */
export function checkAttributes(value: unknown, name = "attributes"): Record<string, unknown> {
  const object = checkObject(value, name);
  for (const key of Object.keys(object)) {
    const item = object[key];
    const path = `${name}[${JSON.stringify(key)}]`;
    if (item === undefined) continue; // OpenTelemetry drops undefined attributes too
    if (Array.isArray(item)) {
      for (let i = 0; i < item.length; i++) checkAttributeScalar(item[i], `${path}[${i}]`);
    } else {
      checkAttributeScalar(item, path);
    }
  }
  return object;
}
