import { type TypeBoxTypeProvider, TypeBoxValidatorCompiler } from "@fastify/type-provider-typebox";
import { type TSchema, Type } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import { parseDigest } from "../artifacts/index.js";
import type { FleetService } from "./fleet.service.js";
import { formatReport } from "./fleet.service.js";
import type { FleetProgress } from "./fleet.types.js";
import { DEFAULT_CHUNK_SIZE, settingsFromSpec } from "./fleet-settings.js";
import {
  FleetSpecSchema,
  parseFleetSpec,
  SPEC_LIMITS,
  toSegmentPlan,
  validateFleetSpec,
} from "./fleet-spec.js";
import {
  FleetListSchema,
  FleetProgressSchema,
  FleetReportSchema,
  FleetRunSchema,
  SubmitFleetResultSchema,
} from "./fleets.schemas.js";
import { SchemaIssues } from "./spec-issues.js";

const Name = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$" });
const FleetParams = Type.Object({ project: Name, fleet: Name });
const RunQuery = Type.Object(
  { run: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) },
  { additionalProperties: false },
);
const SpecText = Type.String({
  minLength: 1,
  maxLength: SPEC_LIMITS.maxChars,
  description: "YAML or JSON; `format` says which (default: JSON when it starts with `{`)",
});
const SubmitFields = {
  format: Type.Optional(Type.Union([Type.Literal("yaml"), Type.Literal("json")], { title: "format" })),
  datasetDigest: Type.String({
    pattern: "^sha256:[0-9a-f]{64}$",
    title: "dataset digest",
    description: "sha256: and 64 hex digits, of the dataset file uploaded to /api/v1/artifacts",
  }),
  chunkSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
};
const SPEC_DESCRIPTION = "the fleet spec, as text or as an object (docs/reference/fleet-spec.md)";
/** The body as OpenAPI shows it: the spec's own fields, from the one schema that validates specs. */
const SubmitBody = Type.Object(
  { spec: Type.Union([SpecText, FleetSpecSchema], { description: SPEC_DESCRIPTION }), ...SubmitFields },
  { additionalProperties: false },
);
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
const op = (operationId: string, summary: string) => ({ tags: ["fleets"], operationId, summary });

/** Fleet endpoints under /api/v1/projects/:project/fleets. */
export const fleetRoutes: FastifyPluginAsync<{ fleets: FleetService; progressIntervalMs?: number }> = async (
  plugin,
  options,
) => {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
  const { fleets } = options;

  app.post(
    "/projects/:project/fleets",
    {
      schema: {
        ...op("submitFleet", "Train a fleet: one spec over every segment of an uploaded dataset"),
        description:
          "202 with a new run; 200 with the existing one when the same spec over the same data was submitted before.",
        params: Type.Object({ project: Name }),
        body: SubmitBody,
        response: { 200: SubmitFleetResultSchema, 202: SubmitFleetResultSchema },
      },
      bodyLimit: Math.min(plugin.initialConfig.bodyLimit ?? SUBMIT_BODY_LIMIT_BYTES, SUBMIT_BODY_LIMIT_BYTES),
      validatorCompiler: (route) =>
        route.httpPart === "body"
          ? checkSubmitEnvelope
          : // Each call gets one part's schema (params here), whatever Fastify's types say.
            TypeBoxValidatorCompiler({ ...route, schema: route.schema as unknown as TSchema }),
    },
    async (req, reply) => {
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
  );

  app.get(
    "/projects/:project/fleets",
    {
      schema: {
        ...op("listFleets", "List fleets with their latest run"),
        params: Type.Object({ project: Name }),
        response: { 200: FleetListSchema },
      },
    },
    async (req) => ({
      items: await fleets.list(req.params.project),
    }),
  );

  app.get(
    "/projects/:project/fleets/:fleet",
    {
      schema: {
        ...op("getFleetProgress", "A fleet run's progress: done, rate, ETA"),
        params: FleetParams,
        querystring: RunQuery,
        response: { 200: FleetProgressSchema },
      },
    },
    async (req) => fleets.progress(req.params.project, req.params.fleet, req.query.run),
  );

  app.get(
    "/projects/:project/fleets/:fleet/report",
    {
      schema: {
        ...op("getFleetReport", "A fleet run's report: metric distributions, winners, failures, resources"),
        params: FleetParams,
        querystring: Type.Object(
          {
            run: RunQuery.properties.run,
            format: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("text")])),
          },
          { additionalProperties: false },
        ),
        response: {
          200: {
            description: "the report, as JSON or (format=text) as a table for people",
            content: {
              "application/json": { schema: FleetReportSchema },
              "text/plain": { schema: Type.String() },
            },
          },
        },
      },
    },
    async (req, reply) => {
      const report = await fleets.report(req.params.project, req.params.fleet, req.query.run);
      if (req.query.format === "text")
        return reply.type("text/plain; charset=utf-8").send(`${formatReport(report)}\n`);
      return report;
    },
  );

  app.post(
    "/projects/:project/fleets/:fleet/cancel",
    {
      schema: {
        ...op("cancelFleet", "Cancel a fleet run"),
        params: FleetParams,
        querystring: RunQuery,
        response: { 200: FleetRunSchema },
      },
    },
    async (req) => fleets.cancel(req.params.project, req.params.fleet, req.query.run),
  );

  // Server-sent events: one `progress` event per interval until the run ends, then `end` with the final state.
  app.get(
    "/projects/:project/fleets/:fleet/events",
    {
      schema: {
        ...op("streamFleetEvents", "Follow a fleet run's progress as server-sent events"),
        description:
          "Server-sent events: `progress` (FleetProgress) per interval, then `end` with the final state.",
        params: FleetParams,
        querystring: RunQuery,
        response: {
          200: {
            description: "an event stream",
            content: { "text/event-stream": { schema: Type.String() } },
          },
        },
      },
    },
    async (req, reply) => {
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
  );
};
