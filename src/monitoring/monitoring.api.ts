import { Type } from "@sinclair/typebox";
import { defineApi } from "../core/index.js";
import {
  MAX_BATCH_ROWS,
  MAX_FEATURES,
  MAX_ID_LENGTH,
  MAX_OUTPUTS,
  REJECTION_REASONS,
} from "./ingest.types.js";

/**
 * Monitoring's operations under /api/v1/projects/{project}: batches of predictions and of ground truth, and
 * the ingestion counters. monitoring.routes.ts registers its routes from these entries and the CLI's client
 * takes its request and result types from them.
 *
 * The item schemas document the rows; the service checks each row itself (the routes attach schema
 * validation instead of failing on it), so that every problem of a batch is reported with its row index and
 * counted by reason, never refused wholesale as an unreadable body.
 */

const Name = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$" });
const Id = Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH });
const Instant = Type.String({ format: "date-time", description: "ISO 8601 with a zone" });
const Finite = Type.Number({ description: "finite; NaN and ±Infinity (numbers or strings) are refused" });

const Prediction = Type.Object(
  {
    predictionId: Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH, description: "unique per model" }),
    model: Name,
    version: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }),
    at: Instant,
    segment: Type.Optional(Id),
    period: Type.Optional(
      Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH, description: "with segment" }),
    ),
    features: Type.Array(Finite, {
      minItems: 1,
      maxItems: MAX_FEATURES,
      description: "in the model's input order; the first batch of a model fixes how many",
    }),
    outputs: Type.Array(Finite, { minItems: 1, maxItems: MAX_OUTPUTS }),
  },
  { additionalProperties: false },
);

const Feedback = Type.Object(
  {
    model: Name,
    predictionId: Type.Optional(Id),
    segment: Type.Optional(Id),
    period: Type.Optional(Id),
    actual: Type.Union([Finite, Type.Array(Finite, { minItems: 1, maxItems: MAX_OUTPUTS })], {
      description: "one value per model output",
    }),
    at: Type.Optional(Type.String({ format: "date-time", description: "when observed; default: now" })),
    revision: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 2 ** 31 - 1,
        description: "0 (default) for the first actual of a key; a restatement names a higher one",
      }),
    ),
  },
  { additionalProperties: false, description: "predictionId, or segment and period for a forecast" },
);

const IngestAnswer = Type.Object({
  kind: Type.Union([Type.Literal("predictions"), Type.Literal("feedback")]),
  accepted: Type.Integer({ description: "rows stored: all of the batch" }),
});

const Counts = Type.Record(Type.String(), Type.Integer());
const ProjectParams = Type.Object({ project: Name });

export const monitoringApi = defineApi({
  ingestPredictions: {
    method: "POST",
    path: "/projects/:project/predictions",
    tag: "monitoring",
    summary: "Store a batch of predictions, all or nothing",
    description:
      `Up to ${MAX_BATCH_ROWS.toLocaleString("en")} predictions of registered models. One bad row refuses the ` +
      "batch: 422 PREDICTIONS_INVALID lists every problem (row index, field, reason: " +
      `${REJECTION_REASONS.join(", ")}) and nothing is stored.`,
    params: ProjectParams,
    body: Type.Object({ predictions: Type.Array(Prediction, { maxItems: MAX_BATCH_ROWS }) }),
    response: { 200: IngestAnswer },
  },
  ingestFeedback: {
    method: "POST",
    path: "/projects/:project/feedback",
    tag: "monitoring",
    summary: "Store a batch of ground truth, all or nothing",
    description:
      "Actuals joined to their prediction by prediction id, or by model, segment and period for forecasts. " +
      "Late actuals are fine; a second actual for a key is a duplicate unless it names a higher revision. One " +
      "bad row refuses the batch: 422 FEEDBACK_INVALID lists every problem and nothing is stored.",
    params: ProjectParams,
    body: Type.Object({ feedback: Type.Array(Feedback, { maxItems: MAX_BATCH_ROWS }) }),
    response: { 200: IngestAnswer },
  },
  getIngestCounts: {
    method: "GET",
    path: "/projects/:project/monitoring/ingest-counts",
    tag: "monitoring",
    summary: "Rows accepted and refused, per reason",
    description:
      "Per kind: `accepted`, `rejected_batches`, `rejected_rows`, and problems per rejection reason.",
    params: ProjectParams,
    response: { 200: Type.Object({ predictions: Counts, feedback: Counts }) },
  },
});
