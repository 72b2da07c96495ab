import { type TypeBoxTypeProvider, TypeBoxValidatorCompiler } from "@fastify/type-provider-typebox";
import { type TSchema, Type } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import { parseDigest } from "../artifacts/index.js";
import { routeOptions } from "../core/index.js";
import type { FleetService } from "./fleet.service.js";
import { formatReport } from "./fleet.service.js";
import type { FleetProgress } from "./fleet.types.js";
import { DEFAULT_CHUNK_SIZE, settingsFromSpec } from "./fleet-settings.js";
import { parseFleetSpec, SPEC_LIMITS, toSegmentPlan, validateFleetSpec } from "./fleet-spec.js";
import { fleetApi as api, SPEC_DESCRIPTION, SpecText, SubmitFields } from "./fleets.api.js";
import { FleetProgressSchema } from "./fleets.schemas.js";
import { SchemaIssues } from "./spec-issues.js";

/**
 * The body as the route checks it before the handler: a spec object is left to validateFleetSpec, which
 * checks it against the same schema with the spec's limits, nearest-field hints and cross-field rules, and
 * never coerces `"12"` to 12 as Fastify's Ajv would.
 */
const submitEnvelope = new SchemaIssues(
  Type.Object(
    {
      spec: Type.Union([SpecText, Type.Object({}, { additionalProperties: true })], {
        description: SPEC_DESCRIPTION,
      }),
      ...SubmitFields,
    },
    { additionalProperties: false },
  ),
);
function checkSubmitEnvelope(body: unknown) {
  const issues = submitEnvelope.of(body, SPEC_LIMITS.maxIssues);
  if (issues.length === 0) return { value: body };
  const error = issues.map((i) => ({
    keyword: "schema",
    instancePath: i.path,
    schemaPath: "#",
    params: {},
    message: i.message,
  }));
  return { error };
}

/**
 * Room for the largest spec text: YAML and JSON hold no raw control characters, so each character is at most
 * 3 bytes of the body (`\n` is 2, `é` 2, `€` 3). Fastify refuses a larger body before parsing any of it.
 */
const SUBMIT_BODY_LIMIT_BYTES = 3 * SPEC_LIMITS.maxChars + 16 * 1024;

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

/** Fleet endpoints under /api/v1/projects/:project/fleets, registered from their entries in fleets.api.ts. */
export const fleetRoutes: FastifyPluginAsync<{ fleets: FleetService; progressIntervalMs?: number }> = async (
  plugin,
  options,
) => {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
  const { fleets } = options;

  app.route({
    ...routeOptions(api.submitFleet),
    bodyLimit: Math.min(plugin.initialConfig.bodyLimit ?? SUBMIT_BODY_LIMIT_BYTES, SUBMIT_BODY_LIMIT_BYTES),
    validatorCompiler: (route) =>
      route.httpPart === "body"
        ? checkSubmitEnvelope
        : // Each call gets one part's schema (params here), whatever Fastify's types say.
          TypeBoxValidatorCompiler({ ...route, schema: route.schema as unknown as TSchema }),
    handler: async (req, reply) => {
      // The dataset travels by digest; the spec's own path only matters to the client that uploaded it.
      const given: unknown = req.body.spec;
      const spec =
        typeof given === "string"
          ? parseFleetSpec(given, {
              baseDir: "/",
              fileName: "spec",
              ...(req.body.format && { format: req.body.format }),
            })
          : validateFleetSpec(given, { baseDir: "/", fileName: "spec" });
      const result = await fleets.submit(req.params.project, {
        settings: settingsFromSpec(spec, req.body.chunkSize ?? DEFAULT_CHUNK_SIZE),
        plan: toSegmentPlan(spec),
        datasetDigest: parseDigest(req.body.datasetDigest, "body/datasetDigest"),
      });
      return reply.status(result.created ? 202 : 200).send(result);
    },
  });

  app.route({
    ...routeOptions(api.listFleets),
    handler: async (req) => ({ items: await fleets.list(req.params.project) }),
  });

  app.route({
    ...routeOptions(api.getFleetProgress),
    handler: async (req) => fleets.progress(req.params.project, req.params.fleet, req.query.run),
  });

  app.route({
    ...routeOptions(api.getFleetReport),
    handler: async (req, reply) => {
      const report = await fleets.report(req.params.project, req.params.fleet, req.query.run);
      if (req.query.format === "text")
        return reply.type("text/plain; charset=utf-8").send(`${formatReport(report)}\n`);
      return report;
    },
  });

  app.route({
    ...routeOptions(api.cancelFleet),
    handler: async (req) => fleets.cancel(req.params.project, req.params.fleet, req.query.run),
  });

  // Server-sent events: one `progress` event per interval until the run ends, then `end` with the final state.
  app.route({
    ...routeOptions(api.streamFleetEvents),
    handler: async (req, reply) => {
      const first = await fleets.progress(req.params.project, req.params.fleet, req.query.run);
      // The same serializer as GET …/fleets/{fleet}: only the schema's fields reach the client.
      const serialize: (progress: FleetProgress) => string = reply.compileSerializationSchema(
        FleetProgressSchema,
      ) as never;
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        connection: "keep-alive",
      });
      let closed = false;
      req.raw.on("close", () => {
        closed = true;
      });
      let progress = first;
      while (!closed) {
        const ended = TERMINAL.has(progress.run.status);
        raw.write(`event: ${ended ? "end" : "progress"}\ndata: ${serialize(progress)}\n\n`);
        if (ended) break;
        await new Promise((resolve) => setTimeout(resolve, options.progressIntervalMs ?? 500));
        progress = await fleets.progress(req.params.project, req.params.fleet, progress.run.id);
      }
      raw.end();
    },
  });
};
