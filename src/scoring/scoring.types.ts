import type { JobStatus } from "../jobs/index.js";
import type { InvalidRowPolicy, ScoringInput, ScoringOutput } from "./column-plan.js";

/** The job kind batch scoring jobs are enqueued and claimed under. */
export const SCORE_JOB = "inference.score";

/** Rows per infer request when the request does not say. */
export const DEFAULT_BATCH_ROWS = 1_000;
export const MAX_BATCH_ROWS = 100_000;

export interface SubmitScoringInput {
  model: string;
  /** A version number or an alias; left out: the `champion` alias, else the latest version. */
  version?: number | string;
  dataset: string;
  /** Left out: the dataset's latest version. */
  datasetVersion?: number;
  /** Model input name → CSV column names, in the order the input takes them. */
  columns?: Record<string, string[]>;
  /** Columns copied to the output file before the scores (an id). */
  passthrough?: string[];
  /** Rows per infer request; default 1,000. */
  batchRows?: number;
  /** A row with a missing or non-numeric value fails the job (default) or is skipped and counted. */
  onInvalidRow?: InvalidRowPolicy;
}

/** One rejected row, as the output's report names it. */
export interface InvalidRow {
  line: number;
  column: string;
  value: string;
  reason: string;
}

/** The scored file, stored content-addressed in the artifact store. */
export interface ScoringOutputFile {
  digest: string;
  size: number;
  /** Data rows written (the header not counted). */
  rows: number;
}

/** A batch scoring job as the API shows it. */
export interface ScoringJob {
  id: string;
  status: JobStatus;
  project: string;
  model: string;
  /** The version resolved at submit: the whole file is scored by it even if an alias moves meanwhile. */
  version: number;
  dataset: string;
  datasetVersion: number;
  onInvalidRow: InvalidRowPolicy;
  /** Data rows read so far by the current attempt (scored and skipped); a retried attempt starts over. */
  rowsDone: number;
  rowsTotal: number;
  rowsSkipped: number;
  /** Rows per second of the current (or finished) attempt; 0 before the first report. */
  rate: number;
  /** Seconds left at that rate; null when unknown or finished. */
  etaSeconds: number | null;
  attempts: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  output?: ScoringOutputFile;
  /** The registry run that records the job and holds the output as its artifact `scores.csv`. */
  runId?: string;
  /** The first rows skipped (onInvalidRow "skip"), at most 10. */
  invalidRows?: InvalidRow[];
  error?: string;
}

export interface SubmitScoringResult {
  job: ScoringJob;
  /** False when the same request was submitted before: that job is returned. */
  created: boolean;
}

/** What a job carries: everything resolved at submit, so a worker needs no second lookup. */
export interface ScorePayload {
  project: string;
  model: string;
  version: number;
  versionId: string;
  dataset: string;
  datasetVersion: number;
  datasetDigest: string;
  rowsTotal: number;
  inputs: ScoringInput[];
  passthrough: string[];
  outputs: ScoringOutput[];
  batchRows: number;
  onInvalidRow: InvalidRowPolicy;
}

/** The job's progress report (JobContext.progress). */
export interface ScoreProgress {
  rowsDone: number;
  rowsSkipped: number;
  /** When this attempt started and when it reported, ISO-8601. */
  startedAt: string;
  at: string;
}

/** The job's result. */
export interface ScoreResult {
  output: ScoringOutputFile;
  rowsDone: number;
  rowsSkipped: number;
  invalidRows: InvalidRow[];
  runId: string;
  startedAt: string;
  finishedAt: string;
}
