import { Type } from "@sinclair/typebox";
import { defineApi } from "../core/index.js";
import { FleetSpecSchema, SPEC_LIMITS } from "./fleet-spec.js";
import {
  FleetListSchema,
  FleetProgressSchema,
  FleetReportSchema,
  FleetRunSchema,
  SubmitFleetResultSchema,
} from "./fleets.schemas.js";

/**
 * The fleet operations under /api/v1/projects/{project}/fleets, each named once: fleets.routes.ts registers
 * its routes from these entries and the CLI's client takes its request and result types from them.
 */

const Name = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$" });
const ProjectParams = Type.Object({ project: Name });
const FleetParams = Type.Object({ project: Name, fleet: Name });
const RunQuery = Type.Object(
  { run: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) },
  { additionalProperties: false },
);
export const SpecText = Type.String({
  minLength: 1,
  maxLength: SPEC_LIMITS.maxChars,
  description: "YAML or JSON; `format` says which (default: JSON when it starts with `{`)",
});
export const SubmitFields = {
  format: Type.Optional(Type.Union([Type.Literal("yaml"), Type.Literal("json")], { title: "format" })),
  datasetDigest: Type.String({
    pattern: "^sha256:[0-9a-f]{64}$",
    title: "dataset digest",
    description: "sha256: and 64 hex digits, of the dataset file uploaded to /api/v1/artifacts",
  }),
  chunkSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
};
export const SPEC_DESCRIPTION = "the fleet spec, as text or as an object (docs/reference/fleet-spec.md)";
/** The body as OpenAPI shows it: the spec's own fields, from the one schema that validates specs. */
const SubmitBody = Type.Object(
  { spec: Type.Union([SpecText, FleetSpecSchema], { description: SPEC_DESCRIPTION }), ...SubmitFields },
  { additionalProperties: false },
);

export const fleetApi = defineApi({
  submitFleet: {
    method: "POST",
    path: "/projects/:project/fleets",
    tag: "fleets",
    summary: "Train a fleet: one spec over every segment of an uploaded dataset",
    description:
      "202 with a new run; 200 with the existing one when the same spec over the same data was submitted before.",
    params: ProjectParams,
    body: SubmitBody,
    response: { 200: SubmitFleetResultSchema, 202: SubmitFleetResultSchema },
  },
  listFleets: {
    method: "GET",
    path: "/projects/:project/fleets",
    tag: "fleets",
    summary: "List fleets with their latest run",
    params: ProjectParams,
    response: { 200: FleetListSchema },
  },
  getFleetProgress: {
    method: "GET",
    path: "/projects/:project/fleets/:fleet",
    tag: "fleets",
    summary: "A fleet run's progress: done, rate, ETA",
    params: FleetParams,
    querystring: RunQuery,
    response: { 200: FleetProgressSchema },
  },
  getFleetReport: {
    method: "GET",
    path: "/projects/:project/fleets/:fleet/report",
    tag: "fleets",
    summary: "A fleet run's report: metric distributions, winners, failures, resources",
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
  cancelFleet: {
    method: "POST",
    path: "/projects/:project/fleets/:fleet/cancel",
    tag: "fleets",
    summary: "Cancel a fleet run",
    params: FleetParams,
    querystring: RunQuery,
    response: { 200: FleetRunSchema },
  },
  streamFleetEvents: {
    method: "GET",
    path: "/projects/:project/fleets/:fleet/events",
    tag: "fleets",
    summary: "Follow a fleet run's progress as server-sent events",
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
});
