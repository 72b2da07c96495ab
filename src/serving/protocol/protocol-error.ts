import { type ErrorCode, SkalaError, type SkalaErrorOptions } from "../../core/index.js";

/**
 * The codes the Open Inference Protocol layer fails with. They are catalogue codes like every other error's, so
 * the HTTP status of a /v2 answer comes from the same table as /api's (src/http/error-handler.ts): nothing in
 * serving knows HTTP numbers.
 */
export type ProtocolErrorCode = Extract<
  ErrorCode,
  "INFER_REQUEST_INVALID" | "MODEL_NOT_READY" | "OVERLOADED" | "MODEL_FAILED" | "SERVICE_UNAVAILABLE"
>;

/** The protocol's error body: one human-readable string, nothing else (clients only read `error`). */
export interface ProtocolErrorBody {
  error: string;
}

/**
 * The error type of the inference layer: a SkalaError whose code says what went wrong (a client mistake, a
 * model not ready, an overload, a model failure). /v2 routes answer it as `{"error": "<message>"}`.
 */
export class ProtocolError extends SkalaError {
  declare readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string, options?: SkalaErrorOptions) {
    super(code, message, undefined, options);
    this.name = "ProtocolError";
  }

  toBody(): ProtocolErrorBody {
    return { error: this.message };
  }
}

export function isProtocolError(error: unknown): error is ProtocolError {
  return error instanceof ProtocolError;
}

/** A client mistake in an inference request. */
export function badRequest(message: string): ProtocolError {
  return new ProtocolError("INFER_REQUEST_INVALID", message);
}

/**
 * Renders an offending value for an error message without ever throwing: JSON.stringify throws on BigInt and
 * on cycles, and a long string would flood the log, so only scalars are shown and strings are clipped.
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case "number":
    case "boolean":
    case "bigint":
      return String(value);
    case "string": {
      const clipped = value.length > 40 ? `${value.slice(0, 40)}…` : value;
      return JSON.stringify(clipped);
    }
    case "undefined":
      return "missing";
    case "object":
      if (value === null) return "null";
      return Array.isArray(value) ? "an array" : "an object";
    case "function":
    case "symbol":
      return `a ${typeof value}`;
  }
}

/** Quotes a client-supplied name for a message, clipped so an oversized name cannot flood the log. */
export function quoteName(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
}
