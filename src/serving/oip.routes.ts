import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { exceedsJsonDepth, MAX_JSON_DEPTH, SkalaError } from "../core/index.js";
import type { AdmissionGate } from "./admission.js";
import type { InferenceService } from "./inference.service.js";
import {
  EmptySchema,
  InferRequestSchema,
  InferResponseSchema,
  LiveSchema,
  ModelMetadataSchema,
  ModelParamsSchema,
  ModelReadySchema,
  ReadySchema,
  RepositoryActionRequestSchema,
  RepositoryIndexRequestSchema,
  RepositoryIndexSchema,
  ServerMetadataSchema,
  VersionParamsSchema,
} from "./oip.schemas.js";
import { badRequest, errorBody, ProtocolError } from "./protocol/index.js";

/**
 * The Open Inference Protocol v2 REST endpoints and the model repository extension, under `/v2`. Every error
 * is `{"error": "<text>"}` (the protocol's shape, not the registry's envelope), with the status the app's one
 * table gives its catalogue code: the app hands in `sendError`, so this plugin renders errors without knowing
 * HTTP numbers. Its error and not-found handlers and its body parser are encapsulated: `/api` keeps its own.
 */

/** Renders any error thrown on a /v2 route in the protocol's shape. */
export type OipErrorSender = (error: unknown, request: FastifyRequest, reply: FastifyReply) => FastifyReply;

export interface OipRoutesOptions {
  inference: InferenceService;
  /** Largest request body in bytes; a larger one is answered 413 in the protocol's error shape. */
  bodyLimitBytes: number;
  sendError: OipErrorSender;
}

export const OIP_PREFIX = "/v2";

/** Whether a URL belongs to the protocol, so errors raised before routing can use its shape too. */
export function isOipUrl(url: string): boolean {
  return url === OIP_PREFIX || url.startsWith(`${OIP_PREFIX}/`) || url.startsWith(`${OIP_PREFIX}?`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
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

/**
 * Counts a request once its body has arrived (preValidation), so a client that sends headers and then stalls
 * holds no slot; the server's body deadline and body budget bound what such clients cost meanwhile.
 */
function admission(gate: AdmissionGate) {
  return (_request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void): void => {
    const release = gate.tryEnter();
    if (release === undefined) {
      done(
        new ProtocolError(
          "OVERLOADED",
          `overloaded: ${gate.inflight} inference requests in flight (limit ${gate.limit}); retry`,
          { retryAfterMs: 1_000 },
        ),
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

const tags = ["inference"];
const op = (operationId: string, summary: string) => ({ tags, operationId, summary });

async function oipScope(app: FastifyInstance, options: OipRoutesOptions): Promise<void> {
  const { inference, bodyLimitBytes, sendError } = options;

  // The schemas below document the protocol in the OpenAPI document. Requests are decoded by the protocol's
  // own code (its messages, its INT64 and NaN policies) and answers are already exactly encoded, so this scope
  // neither validates nor re-serializes with them: JSON.stringify is the fastest writer of large tensors.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    sendError(
      new SkalaError(
        "NOT_FOUND",
        `no route for ${request.method} ${request.url.split("?")[0]?.slice(0, 200) ?? ""}`,
      ),
      request,
      reply,
    ),
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
    if (exceedsJsonDepth(text, MAX_JSON_DEPTH)) {
      done(badRequest(`the request body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`));
      return;
    }
    parseJson(request, text, done);
  });

  app.get(
    "/health/live",
    { schema: { ...op("oipServerLive", "The server is live"), response: { 200: LiveSchema } } },
    async () => ({ live: true }),
  );

  app.get(
    "/health/ready",
    {
      schema: {
        ...op("oipServerReady", "The server is ready (its database answers); 503 when not"),
        response: { 200: ReadySchema },
      },
    },
    async () => {
      const answer = await inference.serverReady();
      if (!answer.ready) throw new ProtocolError("SERVICE_UNAVAILABLE", answer.reason);
      return { ready: true };
    },
  );

  // Documented without the trailing slash, which is still answered.
  const serverMetadata = async () => inference.serverMetadata();
  app.get(
    "/",
    {
      prefixTrailingSlash: "no-slash",
      schema: { ...op("oipServerMetadata", "Server metadata"), response: { 200: ServerMetadataSchema } },
    },
    serverMetadata,
  );
  app.get("/", { prefixTrailingSlash: "slash", schema: { hide: true } }, serverMetadata);

  const metadata = async (request: FastifyRequest) => {
    const { name, version } = request.params as ModelParams;
    return inference.modelMetadata(name, version);
  };
  const metadataSchema = (
    operationId: string,
    params: typeof ModelParamsSchema | typeof VersionParamsSchema,
  ) => ({
    schema: {
      ...op(
        operationId,
        "Model metadata (loads the model); without a version, the champion or else the latest",
      ),
      params,
      response: { 200: ModelMetadataSchema },
    },
  });
  app.get("/models/:name", metadataSchema("oipModelMetadata", ModelParamsSchema), metadata);
  app.get(
    "/models/:name/versions/:version",
    metadataSchema("oipModelVersionMetadata", VersionParamsSchema),
    metadata,
  );

  const ready = async (request: FastifyRequest, reply: FastifyReply) => {
    const { name, version } = request.params as ModelParams;
    const answer = await inference.modelReady(name, version);
    if (answer.ready) return { name, ready: true };
    // A permanent failure is told without Retry-After, so clients and proxies that retry 503s stop asking.
    if (answer.permanent === true) return reply.status(503).send(errorBody(answer.reason));
    throw new ProtocolError("MODEL_NOT_READY", answer.reason);
  };
  const readySchema = (
    operationId: string,
    params: typeof ModelParamsSchema | typeof VersionParamsSchema,
  ) => ({
    schema: {
      ...op(operationId, "The model is loaded and can answer; 503 with the reason when not"),
      params,
      response: { 200: ModelReadySchema },
    },
  });
  app.get("/models/:name/ready", readySchema("oipModelReady", ModelParamsSchema), ready);
  app.get(
    "/models/:name/versions/:version/ready",
    readySchema("oipModelVersionReady", VersionParamsSchema),
    ready,
  );

  const infer = async (request: FastifyRequest) => {
    const { name, version } = request.params as ModelParams;
    const header = request.headers["x-request-id"];
    const requestId = typeof header === "string" && header !== "" ? header.slice(0, 256) : undefined;
    return inference.infer(name, version, request.body, requestId === undefined ? {} : { requestId });
  };
  const admit = admission(inference.admission);
  const inferOptions = (
    operationId: string,
    params: typeof ModelParamsSchema | typeof VersionParamsSchema,
  ) => ({
    preValidation: admit,
    schema: {
      ...op(operationId, "Inference; 503 with Retry-After past the in-flight limit"),
      description:
        "Without a version the model's deployment routes the request (by `id` or X-Request-Id), else the " +
        "champion alias, else the latest version. Any content type is read as JSON.",
      params,
      body: InferRequestSchema,
      response: { 200: InferResponseSchema },
    },
  });
  app.post("/models/:name/infer", inferOptions("oipInfer", ModelParamsSchema), infer);
  app.post(
    "/models/:name/versions/:version/infer",
    inferOptions("oipInferVersion", VersionParamsSchema),
    infer,
  );

  app.post(
    "/repository/index",
    {
      schema: {
        ...op("oipRepositoryIndex", "The models of the repository and their state"),
        body: RepositoryIndexRequestSchema,
        response: { 200: RepositoryIndexSchema },
      },
    },
    async (request) => inference.repositoryIndex(parseIndexBody(request.body)),
  );

  const repositorySchema = (operationId: string, summary: string) => ({
    schema: {
      ...op(operationId, summary),
      params: ModelParamsSchema,
      body: RepositoryActionRequestSchema,
      response: { 200: EmptySchema },
    },
  });
  app.post(
    "/repository/models/:name/load",
    repositorySchema("oipRepositoryLoad", "Load a model (its default version)"),
    async (request) => {
      checkRepositoryBody(request.body, "load");
      await inference.load((request.params as ModelParams).name);
      return {};
    },
  );

  app.post(
    "/repository/models/:name/unload",
    repositorySchema("oipRepositoryUnload", "Unload every version of a model"),
    async (request) => {
      checkRepositoryBody(request.body, "unload");
      await inference.unload((request.params as ModelParams).name);
      return {};
    },
  );
}

/**
 * Registers the protocol at the root (`/v2/...`); the routes live in an encapsulated child so their error
 * handling and body parsing stay theirs.
 *
 * @example
 * await app.register(oipRoutes, { inference, bodyLimitBytes: 64 << 20, sendError: sendProtocolError });
 * await app.inject({ method: "POST", url: "/v2/models/part-A12/infer", payload: { inputs: [...] } });
 */
export async function oipRoutes(app: FastifyInstance, options: OipRoutesOptions): Promise<void> {
  await app.register(oipScope, { ...options, prefix: OIP_PREFIX });
}
