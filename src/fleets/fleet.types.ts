import type { SelectionMetric } from "./segment-plan.js";

export const FLEET_RUN_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export type FleetRunStatus = (typeof FLEET_RUN_STATUSES)[number];

export type SegmentStatus = "trained" | "registered" | "failed";

export interface FleetRun {
  id: string;
  fleet: string;
  project: string;
  status: FleetRunStatus;
  /** Segments (series) in the dataset, failed ones included. */
  total: number;
  datasetVersionId: string;
  atomic: boolean;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface FleetProgress {
  run: FleetRun;
  done: number;
  registered: number;
  failed: number;
  /** Segments per second since the run started. */
  rate: number;
  /** Seconds left at the current rate; null before the first segment or after the end. */
  etaSeconds: number | null;
  elapsedSeconds: number;
}

export interface Distribution {
  count: number;
  mean: number;
  p10: number;
  p50: number;
  p90: number;
}

export interface FleetReport {
  fleet: string;
  run: FleetRun;
  segments: {
    total: number;
    registered: number;
    trained: number;
    failed: number;
    passedGate: number;
    flagged: number;
  };
  /** How often each candidate won the selection. */
  winners: Record<string, number>;
  failuresByReason: Record<string, number>;
  /** Distribution over segments of the winner's validation metrics (and holdout metrics when held out). */
  validation: Partial<Record<SelectionMetric, Distribution>>;
  holdout: Record<string, Distribution>;
  /** Pooled weighted quantile loss over the holdout, as the fev benchmark computes it (null without holdout). */
  holdoutWql: number | null;
  resources: { wallSeconds: number; trainCpuSeconds: number; segmentsPerSecond: number; peakRssMb: number };
  /** Examples of failures, for people: up to 20. */
  failureExamples: Array<{ seriesId: string; reason: string; message: string }>;
}
