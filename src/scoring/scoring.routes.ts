import { Readable } from "node:stream";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import { ScoringJobSchema } from "./scoring.schemas.js";
import type { ScoringService } from "./scoring.service.js";
import { MAX_BATCH_ROWS } from "./scoring.types.js";

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

const op = (operationId: string, summary: string) => ({ tags: ["scoring"], operationId, summary });

/** Batch scoring endpoints under /api/v1/projects/:project/scoring-jobs; errors use the registry's envelope. */
export const scoringRoutes: FastifyPluginAsync<{ scoring: ScoringService }> = async (plugin, options) => {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>();
  const { scoring } = options;

  app.post(
    "/projects/:project/scoring-jobs",
    {
      schema: {
        ...op("submitScoringJob", "Score a dataset version with a model version, as a job"),
        description:
          "Score a dataset version with a model version into a CSV file, as a durable job. 202 with a new job; " +
          "200 with the existing one when the same request was submitted before.",
        params: Type.Object({ project: Name }),
        body: SubmitBody,
        response: { 200: ScoringJobSchema, 202: ScoringJobSchema },
      },
    },
    async (req, reply) => {
      const { job, created } = await scoring.submit(req.params.project, req.body);
      return reply.status(created ? 202 : 200).send(job);
    },
  );

  app.get(
    "/projects/:project/scoring-jobs/:id",
    {
      schema: {
        ...op("getScoringJob", "A scoring job's state and progress"),
        params: JobParams,
        response: { 200: ScoringJobSchema },
      },
    },
    async (req) => scoring.get(req.params.project, req.params.id),
  );

  app.get(
    "/projects/:project/scoring-jobs/:id/output",
    {
      schema: {
        ...op("downloadScoringOutput", "The scored CSV of a succeeded job"),
        description: "The output CSV of a succeeded job (text/csv); 409 while it runs or when it failed.",
        params: JobParams,
        response: {
          200: {
            description: "the scores, one row per scored input row",
            content: { "text/csv": { schema: Type.Unsafe<Readable>({ type: "string" }) } },
          },
        },
      },
    },
    async (req, reply) => {
      const { job, size, body } = await scoring.output(req.params.project, req.params.id);
      const digest = job.output?.digest ?? "";
      reply.header("content-type", "text/csv; charset=utf-8");
      reply.header("content-length", size);
      reply.header("etag", `"${digest}"`);
      reply.header(
        "content-disposition",
        `attachment; filename="${job.model}-v${job.version}-${job.dataset}-v${job.datasetVersion}.scores.csv"`,
      );
      return reply.send(Readable.from(body));
    },
  );

  app.post(
    "/projects/:project/scoring-jobs/:id/cancel",
    {
      schema: {
        ...op("cancelScoringJob", "Cancel a scoring job"),
        params: JobParams,
        response: { 200: ScoringJobSchema },
      },
    },
    async (req) => scoring.cancel(req.params.project, req.params.id),
  );
};
