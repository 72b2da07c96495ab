import { type Static, type TSchema, Type } from "@sinclair/typebox";
import type { FleetProgress, FleetReport, FleetRun } from "./fleet.types.js";
import { FLEET_RUN_STATUSES } from "./fleet.types.js";
import { SELECTION_METRICS } from "./segment-plan.js";

/**
 * Response shapes of the fleet endpoints: the routes serialize with them (a stored run's spec, plan and
 * bookkeeping never reach a client) and the OpenAPI document describes them. The compile-time checks at the
 * bottom keep them equal to the domain types in fleet.types.ts.
 */

const Timestamp = Type.String({ format: "date-time" });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const FleetRunSchema = Type.Object(
  {
    id: Type.String(),
    fleet: Type.String(),
    project: Type.String(),
    status: Type.Union(FLEET_RUN_STATUSES.map((s) => Type.Literal(s))),
    total: Type.Integer({ description: "segments (series) in the dataset, failed ones included" }),
    datasetVersionId: Type.String(),
    atomic: Type.Boolean(),
    error: Nullable(Type.String()),
    createdAt: Timestamp,
    startedAt: Nullable(Timestamp),
    finishedAt: Nullable(Timestamp),
  },
  { title: "FleetRun" },
);

export const SubmitFleetResultSchema = Type.Object(
  {
    run: FleetRunSchema,
    created: Type.Boolean({
      description: "false when the same spec over the same data was submitted before",
    }),
  },
  { title: "SubmitFleetResult" },
);

export const FleetListSchema = Type.Object(
  {
    items: Type.Array(
      Type.Object({ name: Type.String(), latestRun: Nullable(FleetRunSchema), updatedAt: Timestamp }),
    ),
  },
  { title: "FleetList" },
);

export const FleetProgressSchema = Type.Object(
  {
    run: FleetRunSchema,
    done: Type.Integer(),
    registered: Type.Integer(),
    failed: Type.Integer(),
    rate: Type.Number({ description: "segments per second since the run started" }),
    etaSeconds: Nullable(Type.Number()),
    elapsedSeconds: Type.Number(),
  },
  { title: "FleetProgress" },
);

export const DistributionSchema = Type.Object(
  { count: Type.Integer(), mean: Type.Number(), p10: Type.Number(), p50: Type.Number(), p90: Type.Number() },
  { title: "Distribution" },
);

export const FleetReportSchema = Type.Object(
  {
    fleet: Type.String(),
    run: FleetRunSchema,
    segments: Type.Object({
      total: Type.Integer(),
      registered: Type.Integer(),
      trained: Type.Integer(),
      failed: Type.Integer(),
      passedGate: Type.Integer(),
      flagged: Type.Integer(),
    }),
    winners: Type.Record(Type.String(), Type.Integer(), { description: "how often each candidate won" }),
    failuresByReason: Type.Record(Type.String(), Type.Integer()),
    validation: Type.Partial(
      Type.Object(
        Object.fromEntries(SELECTION_METRICS.map((m) => [m, DistributionSchema])) as Record<
          (typeof SELECTION_METRICS)[number],
          typeof DistributionSchema
        >,
      ),
    ),
    holdout: Type.Record(Type.String(), DistributionSchema),
    holdoutWql: Nullable(Type.Number()),
    resources: Type.Object({
      wallSeconds: Type.Number(),
      trainCpuSeconds: Type.Number(),
      segmentsPerSecond: Type.Number(),
      peakRssMb: Type.Number(),
    }),
    failureExamples: Type.Array(
      Type.Object({ seriesId: Type.String(), reason: Type.String(), message: Type.String() }),
    ),
  },
  { title: "FleetReport" },
);

/** True when A and B are the same type; a mismatch fails `npm run typecheck`. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export type FleetSchemasMatchTheirTypes = [
  Same<Static<typeof FleetRunSchema>, FleetRun>,
  Same<Static<typeof FleetProgressSchema>, FleetProgress>,
  Same<Static<typeof FleetReportSchema>, FleetReport>,
] extends [true, true, true]
  ? true
  : never;
const schemasMatch: FleetSchemasMatchTheirTypes = true;
void schemasMatch;
