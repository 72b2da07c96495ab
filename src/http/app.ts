import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import { SkalaError } from "../core/index.js";
import { type FleetService, fleetRoutes } from "../fleets/index.js";
import type { Registry } from "../registry/index.js";
import { registryRoutes } from "../registry/index.js";
import { type ScoringService, scoringRoutes } from "../scoring/index.js";
import { type InferenceService, isOipUrl, oipRoutes, sendOipError } from "../serving/index.js";
import type { Store } from "../store/index.js";
import { pendingMigrations } from "../store/index.js";
import { installErrorHandler, sendError } from "./error-handler.js";
import { installMetrics } from "./metrics.js";

export interface AppDependencies {
  store: Store;
  registry: Registry;
  /** Fleet endpoints; left out by processes that serve only the registry. */
  fleets?: FleetService;
  /** The Open Inference Protocol endpoints (`/v2`); left out by processes that do not serve models. */
  inference?: InferenceService;
  /** Batch scoring endpoints (`/api/v1/projects/{project}/scoring-jobs`); left out where nothing scores. */
  scoring?: ScoringService;
  /** Models with their own lifetime series in `/metrics`; every other model counts as `__other__`. */
  metricsModels?: readonly string[];
  /** How many of the busiest models `/metrics` lists in its recent-traffic gauges. Default 20. */
  metricsTopModels?: number;
  /** Largest JSON body in bytes (bulk registration is the big one). */
  bodyLimitBytes: number;
  logger?: FastifyServerOptions["logger"];
  version?: string;
}

export type SkalaApp = FastifyInstance;

/**
 * PostgreSQL text cannot hold U+0000 and SQLite truncates at it in places, so the character is refused at the
 * edge, in URLs and JSON bodies alike, and both databases see the same inputs.
 */
function rejectNulCharacters(app: FastifyInstance): void {
  const nul = () =>
    new SkalaError("VALIDATION_FAILED", "NUL characters (U+0000) are not accepted", {
      issues: [{ path: "body", message: "contains U+0000" }],
    });
  app.addHook("onRequest", async (request) => {
    if (/%00/i.test(request.url)) {
      throw new SkalaError("VALIDATION_FAILED", "NUL characters (U+0000) are not accepted", {
        issues: [{ path: "url", message: "contains %00" }],
      });
    }
  });
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if ((body as string).includes("\\u0000")) return done(nul(), undefined);
    return parseJson(request, body as string, done);
  });
}

/**
 * Composes the HTTP application without listening, so tests use `app.inject()` and the CLI calls `listen`.
 *
 * @example
 * const app = await buildApp({ store, registry, bodyLimitBytes: 64 << 20 });
 * const res = await app.inject({ method: "GET", url: "/readyz" });
 */
export async function buildApp(deps: AppDependencies): Promise<SkalaApp> {
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: deps.bodyLimitBytes,
    keepAliveTimeout: 72_000,
    routerOptions: { maxParamLength: 500 },
    // Errors raised before routing (a malformed URL) answer in the shape of the API the URL belongs to.
    frameworkErrors: (error, request, reply) =>
      deps.inference && isOipUrl(request.url)
        ? sendOipError(error, request, reply, deps.bodyLimitBytes)
        : sendError(error, request, reply),
    ajv: {
      // Report every problem at once, and never drop unknown fields silently: they are errors.
      customOptions: { allErrors: true, removeAdditional: false, coerceTypes: "array", useDefaults: true },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  installErrorHandler(app);
  rejectNulCharacters(app);
  const metrics = installMetrics(app, {
    ...(deps.inference && { inference: deps.inference }),
    ...(deps.metricsModels !== undefined && { models: deps.metricsModels }),
    ...(deps.metricsTopModels !== undefined && { topModels: deps.metricsTopModels }),
  });

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Skala API",
        version: deps.version ?? "0.1.0",
        description:
          "Registry of models, versions, aliases, runs and datasets. Errors: docs/reference/errors.md.",
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: "/api/docs" });

  app.get("/api/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  app.get("/healthz", { schema: { hide: true } }, async () => ({ status: "ok" }));

  app.get("/readyz", { schema: { hide: true } }, async (_request, reply) => {
    try {
      await deps.store.ping();
      const pending = await pendingMigrations(deps.store);
      if (pending.length > 0) {
        return reply.status(503).send({ status: "not ready", reason: "migrations pending", pending });
      }
      return { status: "ready", database: deps.store.dialect };
    } catch (error) {
      return reply
        .status(503)
        .send({ status: "not ready", reason: `database unreachable: ${(error as Error).message}` });
    }
  });

  app.get("/metrics", { schema: { hide: true } }, async (_request, reply) => {
    reply.header("content-type", metrics.contentType);
    return metrics.metrics();
  });

  await app.register(registryRoutes, { prefix: "/api/v1", registry: deps.registry });
  if (deps.fleets) await app.register(fleetRoutes, { prefix: "/api/v1", fleets: deps.fleets });
  if (deps.scoring) await app.register(scoringRoutes, { prefix: "/api/v1", scoring: deps.scoring });
  if (deps.inference) {
    await app.register(oipRoutes, { inference: deps.inference, bodyLimitBytes: deps.bodyLimitBytes });
  }
  return app;
}
