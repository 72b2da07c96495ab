import type { Readable } from "node:stream";
import { Type } from "@sinclair/typebox";
import { defineApi } from "../core/index.js";
import { ScoringJobSchema } from "./scoring.schemas.js";
import { MAX_BATCH_ROWS } from "./scoring.types.js";

/**
 * The batch scoring operations under /api/v1/projects/{project}/scoring-jobs, each named once:
 * scoring.routes.ts registers its routes from these entries and the CLI's client takes its request and
 * result types from them.
 */

const Name = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$" });
const ColumnName = Type.String({ minLength: 1, maxLength: 1_000 });
const JobParams = Type.Object({ project: Name, id: Type.String({ minLength: 1, maxLength: 100 }) });
const SubmitBody = Type.Object(
  {
    model: Name,
    version: Type.Optional(
      Type.Union(
        [
          Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }),
          Type.String({ pattern: "^([0-9]{1,10}|[a-z][a-z0-9_-]{0,62})$" }),
        ],
        { description: "a version number or an alias; default: the champion alias, else the latest version" },
      ),
    ),
    dataset: Name,
    datasetVersion: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, description: "default: the latest version" }),
    ),
    columns: Type.Optional(
      Type.Record(
        Type.String({ minLength: 1, maxLength: 256 }),
        Type.Array(ColumnName, { minItems: 1, maxItems: 10_000 }),
        {
          maxProperties: 64,
          description:
            "model input name → CSV columns, in order; default: the numeric columns for a single [-1, k] input, " +
            "else the column named like each input",
        },
      ),
    ),
    passthrough: Type.Optional(
      Type.Array(ColumnName, { maxItems: 1_000, description: "columns copied to the output (an id)" }),
    ),
    batchRows: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_BATCH_ROWS,
        description: "rows per infer request; default 1,000",
      }),
    ),
    onInvalidRow: Type.Optional(
      Type.Union([Type.Literal("fail"), Type.Literal("skip")], {
        description:
          "a row with a missing or non-numeric value fails the job (default) or is skipped and counted",
      }),
    ),
  },
  { additionalProperties: false },
);

export const scoringApi = defineApi({
  submitScoringJob: {
    method: "POST",
    path: "/projects/:project/scoring-jobs",
    tag: "scoring",
    summary: "Score a dataset version with a model version, as a job",
    description:
      "Score a dataset version with a model version into a CSV file, as a durable job. 202 with a new job; " +
      "200 with the existing one when the same request was submitted before.",
    params: Type.Object({ project: Name }),
    body: SubmitBody,
    response: { 200: ScoringJobSchema, 202: ScoringJobSchema },
  },
  getScoringJob: {
    method: "GET",
    path: "/projects/:project/scoring-jobs/:id",
    tag: "scoring",
    summary: "A scoring job's state and progress",
    params: JobParams,
    response: { 200: ScoringJobSchema },
  },
  downloadScoringOutput: {
    method: "GET",
    path: "/projects/:project/scoring-jobs/:id/output",
    tag: "scoring",
    summary: "The scored CSV of a succeeded job",
    description: "The output CSV of a succeeded job (text/csv); 409 while it runs or when it failed.",
    params: JobParams,
    response: {
      200: {
        description: "the scores, one row per scored input row",
        content: { "text/csv": { schema: Type.Unsafe<Readable>({ type: "string" }) } },
      },
    },
  },
  cancelScoringJob: {
    method: "POST",
    path: "/projects/:project/scoring-jobs/:id/cancel",
    tag: "scoring",
    summary: "Cancel a scoring job",
    params: JobParams,
    response: { 200: ScoringJobSchema },
  },
});
