import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { JOB_STATUSES } from "../jobs/index.js";
import type { ScoringJob } from "./scoring.types.js";

/**
 * The batch scoring job as the API shows it: the routes serialize with it and the OpenAPI document describes
 * it; the compile-time check below keeps it equal to ScoringJob in scoring.types.ts.
 */

const Timestamp = Type.String({ format: "date-time" });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const ScoringJobSchema = Type.Object(
  {
    id: Type.String(),
    status: Type.Union(JOB_STATUSES.map((s) => Type.Literal(s))),
    project: Type.String(),
    model: Type.String(),
    version: Type.Integer({ description: "resolved at submit; the whole file is scored by it" }),
    dataset: Type.String(),
    datasetVersion: Type.Integer(),
    onInvalidRow: Type.Union([Type.Literal("fail"), Type.Literal("skip")]),
    rowsDone: Type.Integer({ description: "data rows read so far by the current attempt" }),
    rowsTotal: Type.Integer(),
    rowsSkipped: Type.Integer(),
    rate: Type.Number({ description: "rows per second of the current (or finished) attempt" }),
    etaSeconds: Nullable(Type.Number()),
    attempts: Type.Integer(),
    createdAt: Timestamp,
    startedAt: Nullable(Timestamp),
    finishedAt: Nullable(Timestamp),
    output: Type.Optional(
      Type.Object(
        { digest: Type.String(), size: Type.Integer(), rows: Type.Integer() },
        { title: "ScoringOutput" },
      ),
    ),
    runId: Type.Optional(Type.String({ description: "the registry run holding the output as `scores.csv`" })),
    invalidRows: Type.Optional(
      Type.Array(
        Type.Object({
          line: Type.Integer(),
          column: Type.String(),
          value: Type.String(),
          reason: Type.String(),
        }),
        { description: "the first rows skipped, at most 10" },
      ),
    ),
    error: Type.Optional(Type.String()),
  },
  { title: "ScoringJob" },
);

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** `never` when the schema and ScoringJob drift apart, which fails `npm run typecheck` below. */
export type ScoringJobSchemaMatchesItsType =
  Same<Static<typeof ScoringJobSchema>, ScoringJob> extends true ? true : never;
const schemaMatches: ScoringJobSchemaMatchesItsType = true;
void schemaMatches;
