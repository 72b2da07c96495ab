/**
 * Predictions and ground truth as monitoring ingests them (README.md, "Predictions and feedback"). A batch is
 * validated as a whole: every problem is reported with its row index and reason, and one problem refuses the
 * whole batch.
 */

/** A prediction as stored: validated, times in epoch ms. */
export interface PredictionRow {
  predictionId: string;
  model: string;
  version: number;
  atMs: number;
  /** Forecasts: the series and the period forecast (both or neither). */
  segment: string | null;
  period: string | null;
  features: readonly number[];
  outputs: readonly number[];
}

/** Ground truth as stored: joined by `predictionId`, or by (model, segment, period) for forecasts. */
export interface FeedbackRow {
  model: string;
  predictionId: string | null;
  segment: string | null;
  period: string | null;
  /** 0 for the first actual of a key; a restatement names a higher one. */
  revision: number;
  actual: readonly number[];
  /** When the actual was observed; defaults to the time of ingestion. */
  atMs: number;
}

/** Why a row was refused. Stable: the counters and `details.reasons` use these names. */
export const REJECTION_REASONS = [
  "invalid_type",
  "not_finite",
  "shape_mismatch",
  "unknown_model",
  "unknown_prediction",
  "unknown_forecast",
  "duplicate_in_batch",
  "duplicate",
  "stale_revision",
  "before_prediction",
  "future_timestamp",
  "expired",
] as const;

export type RejectionReason = (typeof REJECTION_REASONS)[number];

/** One problem with one row. `index` is the row's position in the batch, from 0. */
export interface IngestProblem {
  index: number;
  field?: string;
  reason: RejectionReason;
  message: string;
}

export type IngestKind = "predictions" | "feedback";

/** What an accepted batch did. */
export interface IngestResult {
  kind: IngestKind;
  accepted: number;
}

/** Counters of one project: rows accepted, batches refused, and refused rows per reason. */
export interface IngestCounts {
  predictions: Record<string, number>;
  feedback: Record<string, number>;
}

/** At most this many problems are listed in an error's details; `reasons` counts them all. */
export const MAX_LISTED_PROBLEMS = 100;
/** Rows per ingested batch at most (API, CLI and the service agree). */
export const MAX_BATCH_ROWS = 50_000;
export const MAX_FEATURES = 4_096;
export const MAX_OUTPUTS = 64;
export const MAX_ID_LENGTH = 256;
