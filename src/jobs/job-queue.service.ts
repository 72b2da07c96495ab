import type { Clock, ValidationIssue } from "../core/index.js";
import { newId, systemClock, validationError } from "../core/index.js";
import type { Executor, Store } from "../store/index.js";
import { JobsRepository, type NewJobRow } from "./jobs.repository.js";
import type {
  ClaimOptions,
  EnqueueInput,
  EnqueueResult,
  FailOptions,
  GroupProgress,
  Job,
  ListJobsOptions,
} from "./jobs.types.js";

export interface BackoffOptions {
  /** Delay before the first retry, in ms; doubles with each further attempt. Default 1,000. */
  baseMs: number;
  /** Upper bound of one delay, in ms. Default 300,000 (5 minutes). */
  maxMs: number;
}

export interface JobQueueOptions {
  store: Pick<Store, "db" | "sqlDialect">;
  clock?: Clock;
  /** Claims allowed per job when enqueue does not say. Default 3. */
  defaultMaxAttempts?: number;
  backoff?: Partial<BackoffOptions>;
  /** Source of jitter in [0, 1); injected so tests can pin delays. */
  random?: () => number;
}

const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1_000, maxMs: 300_000 };
/** Stored error text is for people reading a status page, not a full log. */
const MAX_ERROR_CHARS = 4_000;
const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 10_000;

/**
 * Delay before retry `attempt + 1`: exponential, capped, with "equal jitter" (half fixed, half random) so
 * that jobs failing together, say on a database blip, do not all retry in the same instant.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions, random: () => number): number {
  const exponential = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential / 2 + (exponential / 2) * random());
}

function errorText(error: unknown): string {
  const text =
    error instanceof Error
      ? `${error.name}: ${error.message}`
      : typeof error === "string"
        ? error
        : String(error);
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text;
}

function jsonText(value: unknown, path: string, issues: ValidationIssue[]): string {
  try {
    const text = JSON.stringify(value ?? null);
    if (text === undefined) throw new TypeError("not JSON-serialisable");
    return text;
  } catch (error) {
    issues.push({ path, message: `must be JSON-serialisable (${(error as Error).message})` });
    return "null";
  }
}

/**
 * A durable job queue in the metadata database: idempotent enqueue, leases kept alive by heartbeats,
 * reclaim after a worker crash, retries with exponential backoff, cancellation and progress per group.
 * Works the same on SQLite and PostgreSQL; on PostgreSQL concurrent claimers skip each other's rows.
 *
 * @example
 * const queue = new JobQueue({ store, clock });
 * await queue.enqueue([{ kind: "fleet.chunk", groupId: run.id, idempotencyKey: `${run.id}:0`, payload }]);
 * const [job] = await queue.claim({ owner: "worker-1", kinds: ["fleet.chunk"], limit: 1, leaseMs: 30_000 });
 * if (job) await queue.complete(job.id, "worker-1", { fitted: 50 });
 */
export class JobQueue {
  private readonly db: Executor;
  private readonly jobs: JobsRepository;
  private readonly clock: Clock;
  private readonly defaultMaxAttempts: number;
  private readonly backoff: BackoffOptions;
  private readonly random: () => number;

  constructor(options: JobQueueOptions) {
    this.db = options.store.db;
    this.jobs = new JobsRepository(options.store.db, options.store.sqlDialect);
    this.clock = options.clock ?? systemClock;
    this.defaultMaxAttempts = options.defaultMaxAttempts ?? 3;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.random = options.random ?? Math.random;
  }

  /**
   * Adds jobs in one transaction: the caller's when `db` is one, so that the jobs commit (or vanish) with the
   * rows they work on. A job whose idempotency key exists already is not added again: the existing job comes
   * back in its place, whatever its status, so resuming a fleet never duplicates work.
   */
  async enqueue(inputs: readonly EnqueueInput[], db: Executor = this.db): Promise<EnqueueResult> {
    const now = this.clock.now();
    const nowIso = now.toISOString();
    const issues: ValidationIssue[] = [];
    const rowsByKey = new Map<string, NewJobRow>();
    const rows: NewJobRow[] = inputs.map((input, i) => {
      if (typeof input.kind !== "string" || input.kind.length === 0) {
        issues.push({ path: `/${i}/kind`, message: "must be a non-empty string" });
      }
      const maxAttempts = input.maxAttempts ?? this.defaultMaxAttempts;
      if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
        issues.push({ path: `/${i}/maxAttempts`, message: "must be an integer ≥ 1" });
      }
      if (input.idempotencyKey !== undefined && input.idempotencyKey.length === 0) {
        issues.push({ path: `/${i}/idempotencyKey`, message: "must not be empty" });
      }
      const key = input.idempotencyKey ?? null;
      // A key repeated within one batch names one job.
      const earlier = key === null ? undefined : rowsByKey.get(key);
      if (earlier) return earlier;
      const row: NewJobRow = {
        id: newId("job", now),
        kind: input.kind,
        idempotency_key: key,
        group_id: input.groupId ?? null,
        payload: jsonText(input.payload, `/${i}/payload`, issues),
        status: "queued",
        attempts: 0,
        max_attempts: maxAttempts,
        run_after: (input.runAfter ?? now).toISOString(),
        lease_owner: null,
        lease_expires_at: null,
        heartbeat_at: null,
        result: null,
        last_error: null,
        created_at: nowIso,
        updated_at: nowIso,
        started_at: null,
        finished_at: null,
        progress: null,
      };
      if (key !== null) rowsByKey.set(key, row);
      return row;
    });
    if (issues.length > 0) throw validationError(issues);
    if (rows.length === 0) return { jobs: [], created: 0 };
    const unique = [...new Set(rows)];
    const stored = await this.jobs.insertMany(unique, db);
    const byRowId = new Map(unique.map((row, i) => [row.id, stored.jobs[i] as Job]));
    return { jobs: rows.map((row) => byRowId.get(row.id) as Job), created: stored.created };
  }

  /**
   * Leases up to `limit` claimable jobs to `owner` for `leaseMs`: due queued jobs, and running jobs whose lease
   * expired (their worker crashed or stalled). Each claim counts as an attempt; a job whose lease expired on
   * its last attempt fails instead of being claimed again.
   */
  async claim(options: ClaimOptions, db: Executor = this.db): Promise<Job[]> {
    if (!Number.isSafeInteger(options.limit) || options.limit < 0) {
      throw validationError([{ path: "/limit", message: "must be an integer ≥ 0" }]);
    }
    if (!(options.leaseMs > 0)) throw validationError([{ path: "/leaseMs", message: "must be > 0" }]);
    if (options.limit === 0 || options.kinds?.length === 0) return [];
    const now = this.clock.now();
    await this.jobs.failExpired(now.toISOString(), db);
    return this.jobs.claim(
      {
        owner: options.owner,
        kinds: options.kinds,
        limit: options.limit,
        now: now.toISOString(),
        leaseExpiresAt: new Date(now.getTime() + options.leaseMs).toISOString(),
      },
      db,
    );
  }

  /** Extends the lease; false when `owner` no longer holds the job (cancelled, finished, or reclaimed). */
  async heartbeat(jobId: string, owner: string, leaseMs: number, db: Executor = this.db): Promise<boolean> {
    const now = this.clock.now();
    return this.jobs.heartbeat(
      {
        id: jobId,
        owner,
        now: now.toISOString(),
        leaseExpiresAt: new Date(now.getTime() + leaseMs).toISOString(),
      },
      db,
    );
  }

  /**
   * Stores what the running attempt reports about itself (rows done, …) as the job's `progress`, replacing the
   * previous report; a new claim clears it. False (and nothing written) when `owner` no longer holds the job.
   */
  async reportProgress(
    jobId: string,
    owner: string,
    progress: unknown,
    db: Executor = this.db,
  ): Promise<boolean> {
    const issues: ValidationIssue[] = [];
    const text = jsonText(progress, "/progress", issues);
    if (issues.length > 0) throw validationError(issues);
    return this.jobs.reportProgress(
      { id: jobId, owner, now: this.clock.now().toISOString(), progress: text },
      db,
    );
  }

  /** Records success; false (and nothing written) when `owner` no longer holds the job. */
  async complete(jobId: string, owner: string, result?: unknown, db: Executor = this.db): Promise<boolean> {
    const issues: ValidationIssue[] = [];
    const text = jsonText(result, "/result", issues);
    if (issues.length > 0) throw validationError(issues);
    return this.jobs.finish(
      {
        id: jobId,
        owner,
        now: this.clock.now().toISOString(),
        status: "succeeded",
        result: text,
        error: null,
      },
      db,
    );
  }

  /**
   * Records a failed attempt: back to queued after a backoff while attempts remain (and the error is
   * retryable), failed for good otherwise. False when `owner` no longer holds the job.
   */
  async fail(
    jobId: string,
    owner: string,
    error: unknown,
    options: FailOptions = {},
    db: Executor = this.db,
  ): Promise<boolean> {
    const job = await this.jobs.findOwned(jobId, owner, db);
    if (!job) return false;
    const now = this.clock.now();
    const message = errorText(error);
    if (options.retryable === false || job.attempts >= job.maxAttempts) {
      return this.jobs.finish(
        { id: jobId, owner, now: now.toISOString(), status: "failed", result: null, error: message },
        db,
      );
    }
    const delay = backoffDelayMs(job.attempts, this.backoff, this.random);
    return this.jobs.requeue(
      {
        id: jobId,
        owner,
        attempts: job.attempts,
        now: now.toISOString(),
        runAfter: new Date(now.getTime() + delay).toISOString(),
        error: message,
        countAttempt: true,
      },
      db,
    );
  }

  /**
   * Gives a job back without using up an attempt, claimable at once: for a worker that stops before
   * finishing. False when `owner` no longer holds the job.
   */
  async release(jobId: string, owner: string, db: Executor = this.db): Promise<boolean> {
    const job = await this.jobs.findOwned(jobId, owner, db);
    if (!job) return false;
    const now = this.clock.now().toISOString();
    return this.jobs.requeue(
      { id: jobId, owner, attempts: job.attempts, now, runAfter: now, error: null, countAttempt: false },
      db,
    );
  }

  /** Cancels the group's queued and running jobs; running ones learn it at their next heartbeat. */
  async cancelGroup(groupId: string, db: Executor = this.db): Promise<number> {
    return this.jobs.cancel({ groupId }, this.clock.now().toISOString(), db);
  }

  /** Cancels one job if it is queued or running; false otherwise. */
  async cancel(jobId: string, db: Executor = this.db): Promise<boolean> {
    return (await this.jobs.cancel({ id: jobId }, this.clock.now().toISOString(), db)) > 0;
  }

  /** Counts by status with rate and ETA, measured from the group's first start to now (or its last finish). */
  async progress(groupId: string): Promise<GroupProgress> {
    const counts = await this.jobs.groupCounts(groupId);
    const { queued, running, succeeded, failed, cancelled } = counts.counts;
    const remaining = queued + running;
    const finished = succeeded + failed;
    const end = remaining > 0 ? this.clock.now().toISOString() : counts.lastFinishedAt;
    let ratePerSecond: number | null = null;
    if (finished > 0 && counts.firstStartedAt !== null && end !== null) {
      const seconds = (Date.parse(end) - Date.parse(counts.firstStartedAt)) / 1000;
      if (seconds > 0) ratePerSecond = finished / seconds;
    }
    return {
      groupId,
      ...counts,
      done: finished + cancelled,
      ratePerSecond,
      etaSeconds: ratePerSecond === null ? null : remaining / ratePerSecond,
    };
  }

  async get(jobId: string): Promise<Job | undefined> {
    return this.jobs.findById(jobId);
  }

  /** Jobs oldest first. */
  async list(options: ListJobsOptions = {}): Promise<Job[]> {
    const limit = options.limit ?? DEFAULT_LIST_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw validationError([{ path: "/limit", message: `must be an integer from 1 to ${MAX_LIST_LIMIT}` }]);
    }
    return this.jobs.list({ ...options, limit });
  }
}
