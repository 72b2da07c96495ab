import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type ErrorCode, isSkalaError, SkalaError, type ValidationIssue } from "../core/index.js";

/** The one place where domain error codes become HTTP status codes. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  CONFIG_INVALID: 500,
  NOT_FOUND: 404,
  BODY_TOO_LARGE: 413,
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
  ARTIFACT_NOT_FOUND: 404,
  ARTIFACT_TOO_LARGE: 413,
  ARTIFACT_DIGEST_MISMATCH: 422,
  ARTIFACT_CORRUPT: 500,
  VERSION_UNLOADABLE: 422,
  MODEL_LOAD_FAILED: 500,
  FLEET_NOT_FOUND: 404,
  DEPLOYMENT_NOT_FOUND: 404,
  SCORING_JOB_NOT_FOUND: 404,
  FILTER_INVALID: 400,
  CURSOR_INVALID: 400,
  BULK_TOO_LARGE: 413,
  CONFLICT: 409,
  SERVICE_UNAVAILABLE: 503,
  STORAGE_FULL: 507,
  DATABASE_BUSY: 503,
  DATABASE_IN_USE: 500,
  ADDRESS_IN_USE: 500,
  INTERNAL: 500,
  // The `skala` command's own codes never reach HTTP; each maps to what it would mean there.
  FILE_NOT_FOUND: 404,
  FILE_UNREADABLE: 400,
  FILE_UNWRITABLE: 400,
  FILE_OUTSIDE_SPEC_DIR: 403,
  SERVER_UNREACHABLE: 503,
  FLEET_RUN_FAILED: 409,
  SCORING_JOB_FAILED: 409,
};

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

/** Translates framework errors (schema validation, body parsing) into the domain catalogue. */
export function toSkalaError(error: FastifyError | Error): SkalaError {
  if (isSkalaError(error)) return error;
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
      return new SkalaError("BODY_TOO_LARGE", "the request body is larger than the server accepts");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new SkalaError("UNSUPPORTED_MEDIA_TYPE", fastifyError.message);
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new SkalaError("VALIDATION_FAILED", "the body is not valid JSON", {
        issues: [{ path: "body", message: fastifyError.message }],
      });
    default:
      break;
  }
  if (error instanceof SyntaxError || fastifyError.statusCode === 400) {
    return new SkalaError("VALIDATION_FAILED", `invalid request: ${error.message}`, {
      issues: [{ path: "body", message: error.message }],
    });
  }
  if (fastifyError.statusCode === 413) return new SkalaError("BODY_TOO_LARGE", error.message);
  if (fastifyError.statusCode === 415) return new SkalaError("UNSUPPORTED_MEDIA_TYPE", error.message);
  if (fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new SkalaError("VALIDATION_FAILED", error.message);
  }
  return new SkalaError("INTERNAL", "internal error", undefined, { cause: error });
}

/** Sends the error envelope; also used for errors Fastify raises before routing (bad URL, over-long parameter). */
export function sendError(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const mapped = toSkalaError(error);
  const status = HTTP_STATUS[mapped.code];
  if (status >= 500) request.log.error({ err: error }, "request failed");
  const body: ErrorBody = {
    error: { code: mapped.code, message: mapped.message, ...(mapped.details && { details: mapped.details }) },
  };
  if (status === 503) reply.header("retry-after", "1");
  return reply.status(status).send(body);
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = {
      error: { code: "NOT_FOUND", message: `no route for ${request.method} ${request.url.split("?")[0]}` },
    };
    return reply.status(404).send(body);
  });
}
