import AjvCompiler from "@fastify/ajv-compiler";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import { type AlertService, alertsRoutes, type WebhookService } from "../alerts/index.js";
import { type AutopilotService, autopilotRoutes } from "../autopilot/index.js";
import { exceedsJsonDepth, MAX_JSON_DEPTH, SETTINGS, type SettingKey, SkalaError } from "../core/index.js";
import { type FleetService, fleetRoutes } from "../fleets/index.js";
import { type MonitoringService, monitoringRoutes } from "../monitoring/index.js";
import type { Registry } from "../registry/index.js";
import { registryRoutes } from "../registry/index.js";
import { type ScoringService, scoringRoutes } from "../scoring/index.js";
import { type InferenceService, isOipUrl, oipRoutes, ProtocolErrorSchema } from "../serving/index.js";
import type { Store } from "../store/index.js";
import { pendingMigrations } from "../store/index.js";
import { type BodyGuardOptions, installBodyGuard } from "./body-guard.js";
import { installErrorHandler, sendError, sendProtocolError } from "./error-handler.js";
import { installMetrics } from "./metrics.js";
import { ErrorEnvelope, Health, MetricsText, NotReady, Ready } from "./schemas.js";

export interface AppDependencies {
  store: Store;
  registry: Registry;
  /** Fleet endpoints; left out by processes that serve only the registry. */
  fleets?: FleetService;
  /** The Open Inference Protocol endpoints (`/v2`); left out by processes that do not serve models. */
  inference?: InferenceService;
  /** Batch scoring endpoints (`/api/v1/projects/{project}/scoring-jobs`); left out where nothing scores. */
  scoring?: ScoringService;
  /** Prediction and ground-truth ingestion (`/api/v1/projects/{project}/predictions`, `…/feedback`). */
  monitoring?: MonitoringService;
  /** Autopilot policies, the action ledger and approvals (`/api/v1/projects/{project}/autopilot`). */
  autopilot?: AutopilotService;
  /** The alert inbox and webhook endpoints; left out by processes that do not serve them. */
  alerts?: { alerts: AlertService; webhooks: WebhookService };
  /** Models with their own lifetime series in `/metrics`; every other model counts as `__other__`. */
  metricsModels?: readonly string[];
  /** How many of the busiest models `/metrics` lists in its recent-traffic gauges. Default 20. */
  metricsTopModels?: number;
  /** Largest JSON body in bytes (bulk registration is the big one). */
  bodyLimitBytes: number;
  /**
   * Body deadline, minimum rate and in-flight body budget (`server.bodyTimeoutMs`,
   * `server.bodyMinBytesPerSecond`, `server.inflightBodyBytes`); each defaults to its setting's default.
   */
  bodyGuard?: Partial<BodyGuardOptions>;
  /**
   * How long a client may take to send a request's headers, and its whole request (`server.headersTimeoutMs`,
   * `server.requestTimeoutMs`; 0 sets no cap on the whole request); each defaults to its setting's default.
   */
  timeouts?: Partial<ServerTimeouts>;
  logger?: FastifyServerOptions["logger"];
  version?: string;
}

export type SkalaApp = FastifyInstance;

export interface ServerTimeouts {
  headersMs: number;
  /** 0: no cap on the whole request; its body is held to the body guard's deadline, which grows with its size. */
  requestMs: number;
}

const settingDefault = (key: SettingKey): number => SETTINGS.find((s) => s.key === key)?.default as number;

/**
 * Ajv options of every part: every problem reported at once, unknown fields refused rather than dropped.
 * Only querystrings, path parameters and headers are coerced, since they arrive as text; a JSON body already
 * has types, so `{"version": "3"}` where an integer is expected is the client's mistake, not a 3.
 */
const AJV_OPTIONS = { allErrors: true, removeAdditional: false, useDefaults: true } as const;
const TEXT_PARTS: ReadonlySet<string> = new Set(["querystring", "params", "headers"]);

function splitValidators(): AjvCompiler.BuildCompilerFromPool {
  const pool = AjvCompiler();
  return (externalSchemas, ajvServerOptions) => {
    const plugins = ajvServerOptions?.plugins ?? [];
    const strict = pool(externalSchemas, { plugins, customOptions: { ...AJV_OPTIONS, coerceTypes: false } });
    const coercing = pool(externalSchemas, {
      plugins,
      customOptions: { ...AJV_OPTIONS, coerceTypes: "array" },
    });
    // Fastify calls a compiler with its route definition (schema, httpPart, …), which the pool's typings omit.
    type RouteCompiler = (route: { httpPart?: string }) => ReturnType<typeof strict>;
    const compile: RouteCompiler = (route) =>
      ((TEXT_PARTS.has(route.httpPart ?? "") ? coercing : strict) as unknown as RouteCompiler)(route);
    return compile as unknown as typeof strict;
  };
}

/**
 * The JSON body parser of `/api`. PostgreSQL text cannot hold U+0000 and SQLite truncates at it in places, so
 * the character is refused (in URLs too), and both databases see the same inputs. Nesting deeper than
 * MAX_JSON_DEPTH is refused before parsing, in one linear pass, so no recursive consumer can overflow.
 */
function installJsonParser(app: FastifyInstance): void {
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
    const text = body as string;
    if (text.includes("\\u0000")) {
      done(
        new SkalaError("VALIDATION_FAILED", "NUL characters (U+0000) are not accepted", {
          issues: [{ path: "body", message: "contains U+0000" }],
        }),
        undefined,
      );
      return;
    }
    if (exceedsJsonDepth(text, MAX_JSON_DEPTH)) {
      done(
        new SkalaError("VALIDATION_FAILED", `the request body nests deeper than ${MAX_JSON_DEPTH} levels`, {
          issues: [{ path: "body", message: `arrays and objects nest deeper than ${MAX_JSON_DEPTH} levels` }],
        }),
        undefined,
      );
      return;
    }
    parseJson(request, text, done);
  });
}

/**
 * Every route may fail with the error envelope (`/v2` with the protocol's shape), so the shape is added to
 * each route's responses here, once, for the OpenAPI document and the serializer.
 */
function declareErrorResponses(app: FastifyInstance): void {
  app.addHook("onRoute", (route) => {
    if (route.schema?.hide === true) return;
    const errorSchema = isOipUrl(route.url) ? ProtocolErrorSchema : ErrorEnvelope;
    const declared = (route.schema?.response ?? {}) as Record<string, unknown>;
    route.schema = {
      ...route.schema,
      response: { ...declared, "4xx": declared["4xx"] ?? errorSchema, "5xx": declared["5xx"] ?? errorSchema },
    };
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
  const bodyGuard: BodyGuardOptions = {
    timeoutMs: deps.bodyGuard?.timeoutMs ?? settingDefault("server.bodyTimeoutMs"),
    minBytesPerSecond: deps.bodyGuard?.minBytesPerSecond ?? settingDefault("server.bodyMinBytesPerSecond"),
    // A budget below the body limit would refuse the largest body even on an idle server.
    inflightBytes: Math.max(
      deps.bodyLimitBytes,
      deps.bodyGuard?.inflightBytes ?? settingDefault("server.inflightBodyBytes"),
    ),
  };
  const headersMs = deps.timeouts?.headersMs ?? settingDefault("server.headersTimeoutMs");
  const requestMs = deps.timeouts?.requestMs ?? settingDefault("server.requestTimeoutMs");
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: deps.bodyLimitBytes,
    keepAliveTimeout: 72_000,
    // Node answers a client slower than these with 408 and closes its socket (Fastify's clientError handler).
    // It checks them every `connectionsCheckingInterval` (30 s by default, which would stretch a 10-second
    // limit to 40 s); a request cap below the headers one would make the headers one meaningless.
    requestTimeout: requestMs === 0 ? 0 : Math.max(requestMs, headersMs),
    http: {
      headersTimeout: headersMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersMs / 4))),
    },
    routerOptions: { maxParamLength: 500 },
    // Errors raised before routing (a malformed URL) answer in the shape of the API the URL belongs to.
    frameworkErrors: (error, request, reply) =>
      deps.inference && isOipUrl(request.url)
        ? sendProtocolError(error, request, reply)
        : sendError(error, request, reply),
    schemaController: { compilersFactory: { buildValidator: splitValidators() } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  installErrorHandler(app);
  installJsonParser(app);
  installBodyGuard(app, bodyGuard);
  declareErrorResponses(app);
  const metrics = installMetrics(app, {
    ...(deps.inference && { inference: deps.inference }),
    ...(deps.monitoring && { monitoring: deps.monitoring }),
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
          "Registry of models, versions, aliases, runs and datasets; fleets; batch scoring; alerts and webhooks; the Open Inference " +
          "Protocol v2 (`/v2`); health, readiness and Prometheus metrics. Errors: docs/reference/errors.md.",
        license: { name: "Apache-2.0", identifier: "Apache-2.0" },
      },
      servers: [{ url: "http://127.0.0.1:7070", description: "the default `skala up`" }],
      // No endpoint asks for credentials yet (access control is a later capability); an empty requirement
      // says so explicitly.
      security: [],
      tags: [
        { name: "projects", description: "Projects: the namespace of models, runs and datasets" },
        { name: "models", description: "Registered models" },
        { name: "versions", description: "Model versions, search and bulk registration" },
        { name: "aliases", description: "Aliases (champion, challenger) and their history" },
        { name: "deployments", description: "Traffic splits and shadows per environment" },
        { name: "runs", description: "Runs: params, metrics and artifacts" },
        { name: "datasets", description: "Dataset versions (CSV, profiled)" },
        { name: "artifacts", description: "Content-addressed blobs" },
        { name: "fleets", description: "One spec trained over every segment of a dataset" },
        { name: "scoring", description: "Batch scoring jobs" },
        { name: "monitoring", description: "Predictions and ground truth, ingested in batches" },
        {
          name: "autopilot",
          description:
            "Policies that retrain, evaluate, promote, roll back or ask a person; the action ledger and approvals",
        },
        { name: "alerts", description: "The alert inbox, webhook subscriptions and dead letters" },
        { name: "inference", description: "Open Inference Protocol v2 (REST)" },
        { name: "operations", description: "Health, readiness and metrics" },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/api/docs" });

  app.get("/api/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  const operations = (operationId: string, summary: string) => ({
    tags: ["operations"],
    operationId,
    summary,
  });

  app.get(
    "/healthz",
    { schema: { ...operations("getHealth", "The process is alive"), response: { 200: Health } } },
    async () => ({ status: "ok" as const }),
  );

  app.get(
    "/readyz",
    {
      schema: {
        ...operations("getReadiness", "The database answers and every migration is applied"),
        response: { 200: Ready, 503: NotReady },
      },
    },
    async (_request, reply) => {
      try {
        await deps.store.ping();
        const pending = await pendingMigrations(deps.store);
        if (pending.length > 0) {
          return reply
            .status(503)
            .send({ status: "not ready" as const, reason: "migrations pending", pending });
        }
        return { status: "ready" as const, database: deps.store.dialect };
      } catch (error) {
        return reply.status(503).send({
          status: "not ready" as const,
          reason: `database unreachable: ${(error as Error).message}`,
        });
      }
    },
  );

  app.get(
    "/metrics",
    {
      schema: {
        ...operations("getMetrics", "Prometheus metrics"),
        response: { 200: { content: { "text/plain": { schema: MetricsText } } } },
      },
    },
    async (_request, reply) => {
      reply.header("content-type", metrics.contentType);
      return metrics.metrics();
    },
  );

  await app.register(registryRoutes, { prefix: "/api/v1", registry: deps.registry });
  if (deps.fleets) await app.register(fleetRoutes, { prefix: "/api/v1", fleets: deps.fleets });
  if (deps.scoring) await app.register(scoringRoutes, { prefix: "/api/v1", scoring: deps.scoring });
  if (deps.monitoring) {
    await app.register(monitoringRoutes, { prefix: "/api/v1", monitoring: deps.monitoring });
  }
  if (deps.autopilot) await app.register(autopilotRoutes, { prefix: "/api/v1", autopilot: deps.autopilot });
  if (deps.alerts) {
    await app.register(alertsRoutes, {
      prefix: "/api/v1",
      alerts: deps.alerts.alerts,
      webhooks: deps.alerts.webhooks,
    });
  }
  if (deps.inference) {
    await app.register(oipRoutes, {
      inference: deps.inference,
      bodyLimitBytes: deps.bodyLimitBytes,
      sendError: sendProtocolError,
    });
  }
  return app;
}
