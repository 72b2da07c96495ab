import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { isSkalaError } from "../core/index.js";
import type { AdmissionGate } from "./admission.js";
import { isModelCacheError } from "./cache/index.js";
import { type InferenceService, ModelNotReadyError } from "./inference.service.js";
import { errorBody, isProtocolError, ProtocolError } from "./protocol/index.js";

/**
 * The Open Inference Protocol v2 REST endpoints and the model repository extension, under `/v2`. Every error
 * is `{"error": "<text>"}` (the protocol's shape, not the registry's envelope), so this plugin installs its
 * own error and not-found handlers and its own body parser, all encapsulated: `/api` keeps its envelope.
 */

export interface OipRoutesOptions {
  inference: InferenceService;
  /** Largest request body in bytes; a larger one is answered 413 in the protocol's error shape. */
  bodyLimitBytes: number;
}

export const OIP_PREFIX = "/v2";

/** Whether a URL belongs to the protocol, so errors raised before routing can use its shape too. */
export function isOipUrl(url: string): boolean {
  return url === OIP_PREFIX || url.startsWith(`${OIP_PREFIX}/`) || url.startsWith(`${OIP_PREFIX}?`);
}

interface OipFailure {
  status: number;
  message: string;
  /** Set for 503s: how long a client should wait; sent as Retry-After in whole seconds. */
  retryAfterMs?: number;
}

const NOT_FOUND_CODES: ReadonlySet<string> = new Set([
  "PROJECT_NOT_FOUND",
  "MODEL_NOT_FOUND",
  "VERSION_NOT_FOUND",
  "ALIAS_NOT_FOUND",
  "ARTIFACT_NOT_FOUND",
  "NOT_FOUND",
]);

/** Maps anything thrown on a /v2 route to the protocol's status: 400, 404, 413, 503 or 500. */
export function toOipFailure(error: unknown, bodyLimitBytes?: number): OipFailure {
  if (error instanceof ModelNotReadyError) {
    return { status: 503, message: error.message, retryAfterMs: error.retryAfterMs };
  }
  if (isProtocolError(error)) {
    return error.status === 503
      ? { status: 503, message: error.message, retryAfterMs: 1_000 }
      : { status: error.status, message: error.message };
  }
  if (isModelCacheError(error))
    return { status: 503, message: error.message, retryAfterMs: error.retryAfterMs };
  if (isSkalaError(error)) {
    if (NOT_FOUND_CODES.has(error.code)) return { status: 404, message: error.message };
    switch (error.code) {
      case "VALIDATION_FAILED":
      case "FILTER_INVALID":
      case "CURSOR_INVALID":
        return { status: 400, message: error.message };
      case "BODY_TOO_LARGE":
        return { status: 413, message: error.message };
      case "SERVICE_UNAVAILABLE":
        return { status: 503, message: error.message, retryAfterMs: 1_000 };
      // Permanent: no Retry-After, so clients and proxies that retry 503s do not retry this forever.
      case "MODEL_LOAD_FAILED":
        return { status: 500, message: error.message };
      default:
        return { status: 500, message: "internal error" };
    }
  }
  const fastifyError = error as Partial<FastifyError> & Error;
  if (fastifyError.validation !== undefined) return { status: 400, message: fastifyError.message };
  switch (fastifyError.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return {
        status: 413,
        message:
          bodyLimitBytes === undefined
            ? "the request body is larger than the server accepts"
            : `the request body is larger than the ${bodyLimitBytes} bytes the server accepts`,
      };
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return { status: 400, message: "the request body is empty; expected a JSON object" };
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return { status: 400, message: "the request body is not valid JSON" };
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
    case "FST_ERR_BAD_URL":
    case "FST_ERR_MAX_PARAM_LENGTH":
      return { status: 400, message: fastifyError.message };
    default:
      break;
  }
  // Fastify's JSON parser rejects bad JSON with the parser's SyntaxError and statusCode 400.
  if (error instanceof SyntaxError) {
    return { status: 400, message: `the request body is not valid JSON: ${error.message}` };
  }
  const status = fastifyError.statusCode;
  if (status === 413) return { status: 413, message: fastifyError.message };
  if (status !== undefined && status >= 400 && status < 500) {
    return { status: status === 404 ? 404 : 400, message: fastifyError.message };
  }
  return { status: 500, message: "internal error" };
}

/** Sends the protocol's error body; also used by the app for errors Fastify raises before routing. */
export function sendOipError(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  bodyLimitBytes?: number,
): FastifyReply {
  const failure = toOipFailure(error, bodyLimitBytes);
  if (failure.status >= 500 && failure.status !== 503) request.log.error({ err: error }, "inference failed");
  if (failure.retryAfterMs !== undefined) {
    reply.header("retry-after", String(Math.max(1, Math.ceil(failure.retryAfterMs / 1000))));
  }
  return reply.status(failure.status).send(errorBody(failure.message));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function badRequest(message: string): ProtocolError {
  return new ProtocolError(400, message);
}

/** `{"ready": bool}`, optional (KServe and Triton both send an empty body or `{}` for "everything"). */
function parseIndexBody(body: unknown): { readyOnly: boolean } {
  if (body === undefined || body === null) return { readyOnly: false };
  if (!isRecord(body)) throw badRequest('the request body must be a JSON object such as {"ready": true}');
  for (const key of Object.keys(body)) {
    if (key !== "ready") throw badRequest(`unknown field "${key.slice(0, 64)}" in the request body`);
  }
  if (body.ready === undefined || body.ready === null) return { readyOnly: false };
  if (typeof body.ready !== "boolean") throw badRequest("ready must be a boolean");
  return { readyOnly: body.ready };
}

/**
 * Load and unload take `{"parameters": {...}}` in Triton. No load parameter (config override, model files) is
 * supported, so any is refused rather than ignored; `unload_dependents` is accepted because nothing here has
 * dependents.
 */
function checkRepositoryBody(body: unknown, action: "load" | "unload"): void {
  if (body === undefined || body === null) return;
  if (!isRecord(body)) throw badRequest("the request body must be a JSON object");
  for (const key of Object.keys(body)) {
    if (key !== "parameters") throw badRequest(`unknown field "${key.slice(0, 64)}" in the request body`);
  }
  if (body.parameters === undefined || body.parameters === null) return;
  if (!isRecord(body.parameters)) throw badRequest("parameters must be a JSON object");
  for (const [key, value] of Object.entries(body.parameters)) {
    if (action === "unload" && key === "unload_dependents" && typeof value === "boolean") continue;
    throw badRequest(`${action} parameter "${key.slice(0, 64)}" is not supported`);
  }
}

/** Runs before the body is read, so a refused request costs no memory. */
function admission(gate: AdmissionGate) {
  return (_request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void): void => {
    const release = gate.tryEnter();
    if (release === undefined) {
      reply.header("retry-after", "1");
      // The body is never parsed: Node discards it as it arrives, so the client gets its 503 and the bytes
      // cost no memory.
      void reply
        .status(503)
        .send(
          errorBody(`overloaded: ${gate.inflight} inference requests in flight (limit ${gate.limit}); retry`),
        );
      return;
    }
    // 'close' fires once the response is finished or the connection is gone, whichever comes first.
    reply.raw.once("close", release);
    done();
  };
}

interface ModelParams {
  name: string;
  version?: string;
}

async function oipScope(app: FastifyInstance, options: OipRoutesOptions): Promise<void> {
  const { inference, bodyLimitBytes } = options;

  // The protocol's own specification documents these routes; the OpenAPI document stays the registry's.
  app.addHook("onRoute", (route) => {
    route.schema = { ...route.schema, hide: true };
  });
  app.setErrorHandler((error, request, reply) => sendOipError(error, request, reply, bodyLimitBytes));
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send(errorBody(`no route for ${request.method} ${request.url.split("?")[0]?.slice(0, 200) ?? ""}`)),
  );

  // Any content type is read as JSON: Triton's HTTP client sends no Content-Type, and curl -d sends a form
  // type. The default parser is kept for its prototype-poisoning protection; an empty body means "no body".
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string", bodyLimit: bodyLimitBytes }, (request, body, done) => {
    if (request.headers["inference-header-content-length"] !== undefined) {
      done(badRequest("the binary tensor data extension is not supported; send tensors as JSON data"));
      return;
    }
    const text = body as string;
    if (text.trim() === "") {
      done(null, undefined);
      return;
    }
    parseJson(request, text, done);
  });

  app.get("/health/live", async () => ({ live: true }));

  app.get("/health/ready", async (_request, reply) => {
    const answer = await inference.serverReady();
    if (answer.ready) return { ready: true };
    reply.header("retry-after", "1");
    return reply.status(503).send(errorBody(answer.reason));
  });

  app.get("/", async () => inference.serverMetadata());

  const metadata = async (request: FastifyRequest) => {
    const { name, version } = request.params as ModelParams;
    return inference.modelMetadata(name, version);
  };
  app.get("/models/:name", metadata);
  app.get("/models/:name/versions/:version", metadata);

  const ready = async (request: FastifyRequest, reply: FastifyReply) => {
    const { name, version } = request.params as ModelParams;
    const answer = await inference.modelReady(name, version);
    if (answer.ready) return { name, ready: true };
    if (answer.permanent !== true) reply.header("retry-after", "1");
    return reply.status(503).send(errorBody(answer.reason));
  };
  app.get("/models/:name/ready", ready);
  app.get("/models/:name/versions/:version/ready", ready);

  const infer = async (request: FastifyRequest) => {
    const { name, version } = request.params as ModelParams;
    const header = request.headers["x-request-id"];
    const requestId = typeof header === "string" && header !== "" ? header.slice(0, 256) : undefined;
    return inference.infer(name, version, request.body, requestId === undefined ? {} : { requestId });
  };
  const admit = admission(inference.admission);
  app.post("/models/:name/infer", { onRequest: admit }, infer);
  app.post("/models/:name/versions/:version/infer", { onRequest: admit }, infer);

  app.post("/repository/index", async (request) => inference.repositoryIndex(parseIndexBody(request.body)));

  app.post("/repository/models/:name/load", async (request) => {
    checkRepositoryBody(request.body, "load");
    await inference.load((request.params as ModelParams).name);
    return {};
  });

  app.post("/repository/models/:name/unload", async (request) => {
    checkRepositoryBody(request.body, "unload");
    await inference.unload((request.params as ModelParams).name);
    return {};
  });
}

/**
 * Registers the protocol at the root (`/v2/...`); the routes live in an encapsulated child so their error
 * handling and body parsing stay theirs.
 *
 * @example
 * await app.register(oipRoutes, { inference, bodyLimitBytes: 64 << 20 });
 * await app.inject({ method: "POST", url: "/v2/models/part-A12/infer", payload: { inputs: [...] } });
 */
export async function oipRoutes(app: FastifyInstance, options: OipRoutesOptions): Promise<void> {
  await app.register(oipScope, { ...options, prefix: OIP_PREFIX });
}
