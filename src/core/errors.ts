/**
 * The closed catalogue of domain errors. Every failure that reaches a client carries one of these codes;
 * the HTTP layer maps codes to status codes in one table (src/http/error-handler.ts) and
 * docs/reference/errors.md documents each code (a test fails when one is missing).
 * Business errors know nothing about HTTP.
 */
export const ERROR_CATALOGUE = {
  VALIDATION_FAILED:
    "The request or input failed validation; details.issues lists each offending field path.",
  CONFIG_INVALID: "The configuration (flags, SKALA_* environment, skala.config.json) is invalid.",
  NOT_FOUND: "No route matches the request.",
  BODY_TOO_LARGE: "The request body exceeds the configured limit.",
  BODY_TIMEOUT:
    "The request body arrived too slowly (server.bodyTimeoutMs, server.bodyMinBytesPerSecond); the connection is closed.",
  UNSUPPORTED_MEDIA_TYPE: "The request's content type is not accepted by this endpoint.",
  PROJECT_NOT_FOUND: "The project does not exist.",
  PROJECT_EXISTS: "A project with this name already exists.",
  MODEL_NOT_FOUND: "The registered model does not exist in the project.",
  MODEL_EXISTS: "A registered model with this name already exists in the project.",
  MODEL_ARCHIVED: "The registered model is archived; restore it before changing it.",
  VERSION_NOT_FOUND: "The model version does not exist.",
  ALIAS_NOT_FOUND: "The alias is not set on the model.",
  RUN_NOT_FOUND: "The run does not exist.",
  RUN_FINISHED: "The run has already finished and can no longer be changed.",
  DATASET_NOT_FOUND: "The dataset or dataset version does not exist.",
  DATASET_INVALID: "The dataset file could not be read as the declared format.",
  ARTIFACT_NOT_FOUND: "No blob with this digest is stored.",
  ARTIFACT_TOO_LARGE: "The artifact exceeds the configured size limit.",
  ARTIFACT_DIGEST_MISMATCH: "The uploaded bytes do not hash to the digest the client declared.",
  ARTIFACT_CORRUPT: "A stored blob no longer matches its digest (detected on read).",
  FLEET_NOT_FOUND: "The fleet, or the requested run of it, does not exist in the project.",
  DEPLOYMENT_NOT_FOUND: "No deployment of the model exists in the environment.",
  SCORING_JOB_NOT_FOUND: "The batch scoring job does not exist in the project.",
  FILTER_INVALID: "The search filter expression could not be parsed; details give the position.",
  CURSOR_INVALID: "The pagination cursor is malformed or belongs to another query.",
  BULK_TOO_LARGE: "The bulk request holds more items than the configured maximum.",
  CONFLICT: "The request conflicts with the current state (for example, a duplicate in a bulk request).",
  SERVICE_UNAVAILABLE: "A dependency (database, storage) is not available right now.",
  OVERLOADED:
    "The server holds as many requests (or request bytes) as it is configured to; retry after Retry-After.",
  INFER_REQUEST_INVALID:
    "The inference request is malformed or does not fit the model (tensor names, datatypes, shapes, data, parameters).",
  MODEL_NOT_READY:
    "The model cannot answer right now (loading, failed to load and backing off, no room in the model cache); retry after Retry-After.",
  MODEL_FAILED:
    "The model or its runtime failed to answer (unloadable artifact, runtime error, malformed output).",
  INTERNAL: "An unexpected error; the server log holds the details.",
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

/** One problem with one field, addressed by a JSON-pointer-like path (`/versions/3/signature/inputs/0/shape`). */
export interface ValidationIssue {
  path: string;
  message: string;
}

export type ErrorDetails = Record<string, unknown>;

export interface SkalaErrorOptions {
  cause?: unknown;
  /** For errors a retry may cure (503s): how long to wait, sent as Retry-After in whole seconds. */
  retryAfterMs?: number;
}

/**
 * A domain error with a stable code.
 *
 * @example
 * throw new SkalaError("MODEL_NOT_FOUND", `model "${name}" does not exist`, { model: name });
 */
export class SkalaError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, details?: ErrorDetails, options?: SkalaErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SkalaError";
    this.code = code;
    this.details = details;
    this.retryAfterMs = options?.retryAfterMs === undefined ? undefined : Math.max(0, options.retryAfterMs);
  }
}

export function validationError(issues: ValidationIssue[], message?: string): SkalaError {
  const summary =
    message ??
    (issues.length === 1
      ? `${issues[0]?.path || "/"}: ${issues[0]?.message}`
      : `${issues.length} validation problems, first ${issues[0]?.path || "/"}: ${issues[0]?.message}`);
  return new SkalaError("VALIDATION_FAILED", summary, { issues });
}

export function isSkalaError(error: unknown): error is SkalaError {
  return error instanceof SkalaError;
}
