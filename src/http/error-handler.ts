import type { Socket } from "node:net";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type ErrorCode, isSkalaError, SkalaError, type ValidationIssue } from "../core/index.js";
import type { ErrorBody } from "./schemas.js";

/**
 * The one place where catalogue codes become HTTP status codes, for `/api` and `/v2` alike. It sits in http
 * rather than next to the catalogue in core because business errors know nothing about HTTP; serving, which
 * http imports, never needs it either: `buildApp` hands the /v2 routes `sendProtocolError`, which reads it.
 */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  CONFIG_INVALID: 500,
  NOT_FOUND: 404,
  BODY_TOO_LARGE: 413,
  BODY_TIMEOUT: 408,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PROJECT_NOT_FOUND: 404,
  PROJECT_EXISTS: 409,
  MODEL_NOT_FOUND: 404,
  MODEL_EXISTS: 409,
  MODEL_ARCHIVED: 409,
  VERSION_NOT_FOUND: 404,
  ALIAS_NOT_FOUND: 404,
  RUN_NOT_FOUND: 404,
  RUN_FINISHED: 409,
  DATASET_NOT_FOUND: 404,
  DATASET_INVALID: 422,
  PREDICTIONS_INVALID: 422,
  FEEDBACK_INVALID: 422,
  ARTIFACT_NOT_FOUND: 404,
  ARTIFACT_TOO_LARGE: 413,
  ARTIFACT_DIGEST_MISMATCH: 422,
  ARTIFACT_CORRUPT: 500,
  VERSION_UNLOADABLE: 422,
  SIGNATURE_MISMATCH: 422,
  MODEL_LOAD_FAILED: 500,
  FLEET_NOT_FOUND: 404,
  DEPLOYMENT_NOT_FOUND: 404,
  SCORING_JOB_NOT_FOUND: 404,
  POLICY_INVALID: 422,
  POLICY_NOT_FOUND: 404,
  APPROVAL_NOT_FOUND: 404,
  APPROVAL_DECIDED: 409,
  FILTER_INVALID: 400,
  RULE_INVALID: 400,
  CHECKS_INVALID: 400,
  ALERT_NOT_FOUND: 404,
  ALERT_RESOLVED: 409,
  EVIDENCE_TOO_LARGE: 413,
  WEBHOOK_NOT_FOUND: 404,
  WEBHOOK_URL_INVALID: 400,
  DEAD_LETTER_NOT_FOUND: 404,
  CURSOR_INVALID: 400,
  BULK_TOO_LARGE: 413,
  CONFLICT: 409,
  SERVICE_UNAVAILABLE: 503,
  STORAGE_FULL: 507,
  DATABASE_BUSY: 503,
  DATABASE_IN_USE: 500,
  ADDRESS_IN_USE: 500,
  OVERLOADED: 503,
  INFER_REQUEST_INVALID: 400,
  MODEL_NOT_READY: 503,
  MODEL_FAILED: 500,
  INTERNAL: 500,
  // The `skala` command's own codes never reach HTTP; each maps to what it would mean there.
  FILE_NOT_FOUND: 404,
  FILE_UNREADABLE: 400,
  FILE_TOO_LARGE: 413,
  FILE_UNWRITABLE: 400,
  FILE_OUTSIDE_SPEC_DIR: 403,
  SERVER_UNREACHABLE: 503,
  FLEET_RUN_FAILED: 409,
  SCORING_JOB_FAILED: 409,
};

/**
 * Failures logged once where they are found rather than on each request that meets them: a version that can
 * never load is logged when its load fails (with the cause), and then answers every request MODEL_LOAD_FAILED.
 */
const LOGGED_WHERE_FOUND: ReadonlySet<ErrorCode> = new Set(["MODEL_LOAD_FAILED"]);

/** What a client waits before retrying a 503 that names no better time. */
const DEFAULT_RETRY_AFTER_MS = 1_000;

function bodyTooLarge(request: FastifyRequest | undefined): SkalaError {
  const limit = request?.routeOptions.bodyLimit;
  return new SkalaError(
    "BODY_TOO_LARGE",
    limit === undefined
      ? "the request body is larger than the server accepts"
      : `the request body is larger than the ${limit} bytes the server accepts`,
  );
}

/** Translates framework errors (schema validation, body parsing) into the domain catalogue. */
export function toSkalaError(error: unknown, request?: FastifyRequest): SkalaError {
  if (isSkalaError(error)) return error;
  if (!(error instanceof Error))
    return new SkalaError("INTERNAL", "internal error", undefined, { cause: error });
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const context = fastifyError.validationContext ?? "body";
    const issues: ValidationIssue[] = fastifyError.validation.map((v) => {
      const missing =
        v.keyword === "required"
          ? `/${String((v.params as { missingProperty?: string }).missingProperty)}`
          : "";
      const extra =
        v.keyword === "additionalProperties"
          ? `/${String((v.params as { additionalProperty?: string }).additionalProperty)}`
          : "";
      return { path: `${context}${v.instancePath}${missing}${extra}`, message: v.message ?? "is invalid" };
    });
    return new SkalaError(
      "VALIDATION_FAILED",
      `${issues[0]?.path}: ${issues[0]?.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""}`,
      { issues },
    );
  }
  switch (fastifyError.code) {
    case "FST_ERR_BAD_URL":
    case "FST_ERR_MAX_PARAM_LENGTH":
      return new SkalaError("VALIDATION_FAILED", fastifyError.message, {
        issues: [{ path: "url", message: fastifyError.message }],
      });
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return bodyTooLarge(request);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new SkalaError("UNSUPPORTED_MEDIA_TYPE", fastifyError.message);
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new SkalaError("VALIDATION_FAILED", "the request body is not valid JSON", {
        issues: [{ path: "body", message: fastifyError.message }],
      });
    default:
      break;
  }
  // Fastify's JSON parser rejects bad JSON with the parser's SyntaxError and statusCode 400.
  if (error instanceof SyntaxError || fastifyError.statusCode === 400) {
    return new SkalaError("VALIDATION_FAILED", `the request body is not valid JSON: ${error.message}`, {
      issues: [{ path: "body", message: error.message }],
    });
  }
  if (fastifyError.statusCode === 413) return bodyTooLarge(request);
  if (fastifyError.statusCode === 415) return new SkalaError("UNSUPPORTED_MEDIA_TYPE", error.message);
  if (fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new SkalaError("VALIDATION_FAILED", error.message);
  }
  return new SkalaError("INTERNAL", "internal error", undefined, { cause: error });
}

/**
 * Sets status and headers for a failed request and returns the catalogue error to render. A request whose body
 * was not read to the end (refused before or while reading it) gets `Connection: close`, so Node closes the
 * socket after the answer instead of reading megabytes nobody wants, and a draining server need not wait.
 */
function prepareErrorReply(error: unknown, request: FastifyRequest, reply: FastifyReply): SkalaError {
  const mapped = toSkalaError(error, request);
  const status = HTTP_STATUS[mapped.code];
  // A 503 with a cause is a dependency failing (a locked database, a lost connection): its cause is logged. One
  // without (a full server, a model still loading) is the system working as designed, and not logged per request;
  // nor is a failure already logged where it was found.
  if (status >= 500 && status !== 503 && !LOGGED_WHERE_FOUND.has(mapped.code))
    request.log.error({ err: error }, "request failed");
  else if (status === 503 && mapped.cause !== undefined) request.log.error({ err: error }, "request failed");
  if (status === 503) {
    const retryAfterMs = mapped.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
    reply.header("retry-after", String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  }
  // light-my-request's injected requests have no `complete`; only a real, partly read request is closed.
  if (request.raw.complete === false) {
    reply.header("connection", "close");
    lingerAfterAnswer(request.raw.socket);
  }
  reply.status(status);
  return mapped;
}

/** How long a connection closed after an answer to an unread body keeps reading (and dropping) what still arrives. */
export const LINGER_MS = 1_000;

/**
 * Lingering close, as nginx and Apache do it. Node ends the socket after an answer marked `Connection: close`
 * and destroys it at once; bytes of the body the client is still sending then make the kernel reset the
 * connection, and a client that is still writing (an upload refused for its size, from another process) loses
 * the answer: it sees EPIPE or ECONNRESET instead of the 413 and its message. Instead the socket is half-closed
 * after the answer, and what still arrives is read and dropped until the client closes its side, for at most
 * LINGER_MS; only then is it destroyed.
 */
function lingerAfterAnswer(socket: Socket | null): void {
  if (socket === null || socket.destroyed) return;
  // Node's http server calls destroySoon() once a `Connection: close` answer is written, and at no other time.
  socket.destroySoon = () => {
    if (socket.destroyed) return;
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
    // The client read the answer and closed its side (or never sends more): nothing left to wait for.
    socket.once("end", () => socket.destroy());
    socket.end();
    // The http parser still reads what arrives (the rest of the body, dropped); a paused socket would not.
    socket.resume();
  };
}

/** Sends the error envelope; also used for errors Fastify raises before routing (bad URL, over-long parameter). */
export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const mapped = prepareErrorReply(error, request, reply);
  const body: ErrorBody = {
    error: { code: mapped.code, message: mapped.message, ...(mapped.details && { details: mapped.details }) },
  };
  return reply.send(body);
}

/**
 * Sends an error in the Open Inference Protocol's shape, `{"error": "<message>"}`, with the status the same
 * table gives `/api`.
 */
export function sendProtocolError(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const mapped = prepareErrorReply(error, request, reply);
  return reply.send({ error: mapped.message });
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    sendError(
      new SkalaError("NOT_FOUND", `no route for ${request.method} ${request.url.split("?")[0]}`),
      request,
      reply,
    ),
  );
}
