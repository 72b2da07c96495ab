import type { DistributionKind, MethodSpec } from "../forecasting/index.js";

/**
 * What training one segment (one series) of a fleet needs, derived from a validated fleet spec.
 * Shared contract between the spec parser (fleet-spec.ts), the segment trainer (segment-trainer.ts)
 * and the fleet runner.
 */
export interface SegmentPlan {
  /** Forecast horizon in periods. */
  horizon: number;
  /** Seasonal period (12 for monthly data, 4 quarterly, 1 when non-seasonal). Also the MASE/RMSSE scale period. */
  period: number;
  /** Candidate methods, each with a unique name used in reports and the registered version's params. */
  candidates: CandidatePlan[];
  /** How candidates are compared on the training part of the series. */
  validation:
    | { scheme: "holdout"; size: number }
    | { scheme: "rolling"; origins: number; size: number; step: number };
  /** Metric that picks the winner on validation (lower is better for all of them). */
  selectionMetric: SelectionMetric;
  /** A winner is accepted (may become champion) only if it beats the baseline by at least this much on validation. */
  gate: { baseline: CandidatePlan; metric: SelectionMetric; minImprovementPct: number };
  /** Quantile levels every registered model's forecast carries. */
  quantiles: number[];
  /**
   * Periods at the end of each series held out from everything above and scored once after selection
   * (benchmark protocols); 0 means the model is refitted on the whole series for registration.
   */
  holdout: number;
  /** Series shorter than this (after the NA policy) fail with reason TOO_SHORT. */
  minLength: number;
}

export interface CandidatePlan {
  name: string;
  spec: MethodSpec;
  distribution: DistributionKind;
}

export const SELECTION_METRICS = ["mase", "rmsse", "wql", "smape", "mae", "rmse"] as const;
export type SelectionMetric = (typeof SELECTION_METRICS)[number];
