export const JOB_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;

/**
 * queued → running → succeeded | failed, with running → queued again on a retryable failure or a release;
 * queued | running → cancelled. A running job whose lease expired counts as claimable: its worker crashed.
 */
export type JobStatus = (typeof JOB_STATUSES)[number];

/** A job as stored. Timestamps are ISO-8601 UTC strings. */
export interface Job<Payload = unknown, Result = unknown> {
  id: string;
  /** Which handler runs it (`fleet.segments`). */
  kind: string;
  /** Enqueueing the same key again returns this job instead of a new one. */
  idempotencyKey: string | null;
  /** Jobs that belong together (a fleet run): progress and cancellation work per group. */
  groupId: string | null;
  payload: Payload;
  status: JobStatus;
  /** Claims so far, the current one included. */
  attempts: number;
  maxAttempts: number;
  /** Not claimable before this instant (retry backoff, delayed jobs). */
  runAfter: string;
  leaseOwner: string | null;
  leaseExpiresAt: string | null;
  heartbeatAt: string | null;
  result: Result | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  /** First claim. */
  startedAt: string | null;
  finishedAt: string | null;
  /** The latest report of the current (or last) attempt (JobContext.progress); null until one is made. */
  progress: unknown;
}

export interface EnqueueInput {
  kind: string;
  payload?: unknown;
  idempotencyKey?: string;
  groupId?: string;
  /** Claims allowed before the job fails for good; the queue's default when left out. */
  maxAttempts?: number;
  /** Earliest start; now when left out. */
  runAfter?: Date;
}

export interface EnqueueResult {
  /** One job per input, in input order; an input whose key already existed gets the existing job. */
  jobs: Job[];
  /** How many rows were inserted (the rest were found by idempotency key). */
  created: number;
}

export interface ClaimOptions {
  /** Who holds the leases; unique per worker (see WorkerPool's default). */
  owner: string;
  /** Kinds this claimer can run; every kind when left out. */
  kinds?: readonly string[];
  limit: number;
  leaseMs: number;
}

export interface FailOptions {
  /** false: fail for good now, whatever attempts remain (bad input that no retry will fix). */
  retryable?: boolean;
}

export interface ListJobsOptions {
  groupId?: string;
  kind?: string;
  status?: JobStatus;
  /** 100 when left out. */
  limit?: number;
}

/** Counts of one group's jobs, with what a progress bar needs for rate and ETA. */
export interface GroupProgress {
  groupId: string;
  total: number;
  counts: Record<JobStatus, number>;
  /** succeeded + failed + cancelled. */
  done: number;
  firstCreatedAt: string | null;
  firstStartedAt: string | null;
  lastFinishedAt: string | null;
  /** Finished (succeeded or failed) jobs per second since the first start; null before any finished. */
  ratePerSecond: number | null;
  /** Queued and running jobs divided by the rate; null when the rate is unknown. */
  etaSeconds: number | null;
}
