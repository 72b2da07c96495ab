import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import { registryRoutes } from "../registry/registry.routes.js";
import type { Registry } from "../registry/index.js";
import type { Store } from "../store/index.js";
import { pendingMigrations } from "../store/index.js";
import { installErrorHandler } from "./error-handler.js";
import { installMetrics } from "./metrics.js";

export interface AppDependencies {
  store: Store;
  registry: Registry;
  /** Largest JSON body in bytes (bulk registration is the big one). */
  bodyLimitBytes: number;
  logger?: FastifyServerOptions["logger"];
  version?: string;
}

export type SkalaApp = FastifyInstance;

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
    ajv: {
      // Report every problem at once, and never drop unknown fields silently: they are errors.
      customOptions: { allErrors: true, removeAdditional: false, coerceTypes: "array", useDefaults: true },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  installErrorHandler(app);
  const metrics = installMetrics(app);

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Skala API",
        version: deps.version ?? "0.1.0",
        description: "Registry of models, versions, aliases, runs and datasets. Errors: docs/reference/errors.md.",
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
      return reply.status(503).send({ status: "not ready", reason: `database unreachable: ${(error as Error).message}` });
    }
  });

  app.get("/metrics", { schema: { hide: true } }, async (_request, reply) => {
    reply.header("content-type", metrics.contentType);
    return metrics.metrics();
  });

  await app.register(registryRoutes, { prefix: "/api/v1", registry: deps.registry });
  return app;
}
