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
  VERSION_UNLOADABLE:
    "The version could never be loaded: its runtime is not one this server has, or its artifact is corrupt or incomplete; details.issues names each offending field. Nothing was registered.",
  SIGNATURE_MISMATCH:
    "The version's declared signature does not match its ONNX model: an input or output the model lacks, another datatype, an incompatible shape, or a model input the signature leaves out; details.issues lists every difference. Nothing was registered.",
  MODEL_LOAD_FAILED:
    "The model version failed to load and retrying will not help (corrupt artifact, a runtime this server lacks); the message says why.",
  FLEET_NOT_FOUND: "The fleet, or the requested run of it, does not exist in the project.",
  DEPLOYMENT_NOT_FOUND: "No deployment of the model exists in the environment.",
  SCORING_JOB_NOT_FOUND: "The batch scoring job does not exist in the project.",
  PREDICTIONS_INVALID:
    "A batch of predictions was refused as a whole: details.problems lists each offending row (index, field, reason; the first 100), details.reasons counts them by reason. Nothing of the batch was stored.",
  FEEDBACK_INVALID:
    "A batch of ground truth was refused as a whole (unknown prediction, duplicate, stale revision, actual before its prediction, NaN/Infinity, wrong type, unknown model): details.problems lists each offending row (the first 100), details.reasons counts them by reason. Nothing of the batch was stored.",
  POLICY_INVALID:
    "The autopilot policy document is invalid; details.issues lists every problem, each with its path. Nothing was stored.",
  POLICY_NOT_FOUND: "No autopilot policy with this name exists in the project.",
  APPROVAL_NOT_FOUND: "The approval request does not exist in the project.",
  APPROVAL_DECIDED: "The approval request has already been decided or has expired; its status says how.",
  FILTER_INVALID: "The search filter expression could not be parsed; details give the position.",
  RULE_INVALID:
    "The monitoring rule could not be parsed or checked; details.problems lists every problem with its position.",
  CHECKS_INVALID:
    "The monitoring check configuration is invalid; details.issues lists every problem with its path.",
  ALERT_NOT_FOUND: "The alert does not exist in the project.",
  ALERT_RESOLVED:
    "The alert is resolved and can no longer be acknowledged or resolved again; the same condition raised again opens a new alert.",
  EVIDENCE_TOO_LARGE:
    "An alert's evidence is larger (as JSON text) than alerts accept (16 KiB); details give the size and the limit.",
  WEBHOOK_NOT_FOUND: "The webhook subscription does not exist in the project.",
  WEBHOOK_URL_INVALID:
    "The webhook URL is refused: not http or https, credentials in it, malformed, too long, or a private address while `alerts.allowPrivateAddresses` is false; the message says which.",
  DEAD_LETTER_NOT_FOUND:
    "The dead letter (an alert delivery that failed every attempt) does not exist in the project.",
  CURSOR_INVALID: "The pagination cursor is malformed or belongs to another query.",
  BULK_TOO_LARGE: "The bulk request holds more items than the configured maximum.",
  CONFLICT: "The request conflicts with the current state (for example, a duplicate in a bulk request).",
  SERVICE_UNAVAILABLE:
    "A dependency (the database, the artifact storage) is not available right now: connection lost, I/O error, read-only file system.",
  STORAGE_FULL:
    "The database or the artifact storage has no space left (disk full, quota, size limit); nothing of the request was stored.",
  DATABASE_BUSY:
    "The database is locked by another process or the transaction conflicted with a concurrent one; retry after Retry-After.",
  DATABASE_IN_USE:
    "Another Skala server holds this SQLite database (its lock file names the pid); `skala up` refuses to start a second one.",
  ADDRESS_IN_USE:
    "The server's host and port are taken by another process; `skala up` exits instead of waiting.",
  OVERLOADED:
    "The server holds as many requests (or request bytes) as it is configured to; retry after Retry-After.",
  INFER_REQUEST_INVALID:
    "The inference request is malformed or does not fit the model (tensor names, datatypes, shapes, data, parameters).",
  MODEL_NOT_READY:
    "The model cannot answer right now (loading, failed to load and backing off, no room in the model cache); retry after Retry-After.",
  MODEL_FAILED:
    "The model or its runtime failed to answer (a runtime error or malformed output of a loaded model).",
  INTERNAL: "An unexpected error; the server log holds the details.",
  // Raised by the `skala` command itself, about local files and the server it talks to; never sent by a server.
  FILE_NOT_FOUND:
    "A local file the command was given (spec, model, dataset, config, signature) does not exist.",
  FILE_UNREADABLE: "A local file exists but cannot be read: permissions, a directory or device.",
  FILE_TOO_LARGE:
    "A local file the command reads whole (spec, signature, config) is larger than it may be; the message names the path and the limit, and nothing of it was read.",
  FILE_UNWRITABLE: "The command cannot write its output file (missing directory, permissions).",
  FILE_OUTSIDE_SPEC_DIR:
    "A fleet spec names a dataset outside the spec's folder (after symlinks); --allow-outside-spec-dir permits it.",
  SERVER_UNREACHABLE:
    "The command could not connect to the Skala server (--server, SKALA_SERVER or the default).",
  FLEET_RUN_FAILED: "The fleet run the command followed ended failed or cancelled.",
  SCORING_JOB_FAILED: "The batch scoring job the command followed ended failed or cancelled.",
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
