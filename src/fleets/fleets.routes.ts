import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import { parseDigest } from "../artifacts/index.js";
import type { FleetService } from "./fleet.service.js";
import { formatReport } from "./fleet.service.js";
import type { FleetProgress } from "./fleet.types.js";
import { DEFAULT_CHUNK_SIZE, settingsFromSpec } from "./fleet-settings.js";
import { parseFleetSpec, toSegmentPlan } from "./fleet-spec.js";
import {
  FleetListSchema,
  FleetProgressSchema,
  FleetReportSchema,
  FleetRunSchema,
  SubmitFleetResultSchema,
} from "./fleets.schemas.js";

const Name = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$" });
const FleetParams = Type.Object({ project: Name, fleet: Name });
const RunQuery = Type.Object(
  { run: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) },
  { additionalProperties: false },
);
const SubmitBody = Type.Object(
  {
    spec: Type.Union(
      [Type.String({ minLength: 1, maxLength: 1_000_000 }), Type.Object({}, { additionalProperties: true })],
      {
        description: "the fleet spec, as YAML/JSON text or as a JSON object (docs/reference/fleet-spec.md)",
      },
    ),
    format: Type.Optional(Type.Union([Type.Literal("yaml"), Type.Literal("json")])),
    datasetDigest: Type.String({
      pattern: "^sha256:[0-9a-f]{64}$",
      description: "the dataset file, uploaded to /api/v1/artifacts",
    }),
    chunkSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  },
  { additionalProperties: false },
);

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
    },
    async (req, reply) => {
      const text = typeof req.body.spec === "string" ? req.body.spec : JSON.stringify(req.body.spec);
      // The dataset travels by digest; the spec's own path only matters to the client that uploaded it.
      const format = req.body.format ?? (typeof req.body.spec === "string" ? undefined : "json");
      const spec = parseFleetSpec(text, { baseDir: "/", fileName: "spec", ...(format && { format }) });
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
