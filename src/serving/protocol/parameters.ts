import { badRequest, describeValue, quoteName } from "./protocol-error.js";

/** The protocol's `$parameter` values: JSON scalars only, so nothing nested can hide in a parameter. */
export type ParameterValue = string | number | boolean;
export type Parameters = Record<string, ParameterValue>;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Decodes a `parameters` object. `where` prefixes every message (`input "x": parameters …`). Keys named in
 * `rejected` belong to extensions this server does not implement; they fail with that extension's message
 * instead of being silently ignored, because ignoring them would make the server misread the request.
 */
export function decodeParameters(
  value: unknown,
  where: string,
  rejected: Readonly<Record<string, string>> = {},
): Parameters {
  if (!isPlainObject(value)) {
    throw badRequest(`${where}parameters is ${describeValue(value)}; expected an object`);
  }
  const out: Parameters = {};
  for (const [key, v] of Object.entries(value)) {
    if (Object.hasOwn(rejected, key))
      throw badRequest(`${where}parameter ${quoteName(key)}: ${rejected[key]}`);
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
      throw badRequest(
        `${where}parameter ${quoteName(key)} is ${describeValue(v)}; parameter values are strings, numbers or booleans`,
      );
    }
    // defineProperty, not assignment: a key "__proto__" must stay an ordinary own entry.
    Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
