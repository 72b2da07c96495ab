/**
 * The one error type of the Open Inference Protocol layer. It carries the HTTP status the protocol expects,
 * because /v2 routes answer `{"error": "<text>"}` rather than the SkalaError envelope: the HTTP layer maps a
 * ProtocolError straight to `status` and `toBody()` with no catalogue lookup.
 */
export type ProtocolStatus = 400 | 404 | 500 | 503;

/** The protocol's error body: one human-readable string, nothing else (clients only read `error`). */
export interface ProtocolErrorBody {
  error: string;
}

export class ProtocolError extends Error {
  readonly status: ProtocolStatus;

  constructor(status: ProtocolStatus, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ProtocolError";
    this.status = status;
  }

  toBody(): ProtocolErrorBody {
    return { error: this.message };
  }
}

export function isProtocolError(error: unknown): error is ProtocolError {
  return error instanceof ProtocolError;
}

/** A client mistake: the protocol answers these with 400. */
export function badRequest(message: string): ProtocolError {
  return new ProtocolError(400, message);
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
