import { randomBytes } from "node:crypto";
import { availableParallelism, hostname } from "node:os";
import { isSkalaError } from "../core/index.js";
import type { JobQueue } from "./job-queue.service.js";
import type { Job } from "./jobs.types.js";

export interface JobContext {
  /** Fires when the job is cancelled (a heartbeat found it no longer ours) or the pool stops. */
  signal: AbortSignal;
  /** Extends the lease now; false when the job is no longer ours, in which case `signal` has fired too. */
  heartbeat(): Promise<boolean>;
  /**
   * Stores a JSON-serialisable report of how far the job got (the job's `progress`, for progress bars); false
   * when the job is no longer ours, in which case `signal` has fired too.
   */
  progress(report: unknown): Promise<boolean>;
}

/** Runs one job; the resolved value is stored as the job's result (it must be JSON-serialisable). */
export type JobHandler<Payload = unknown, Result = unknown> = (
  job: Job<Payload>,
  context: JobContext,
) => Promise<Result>;

/**
 * Thrown by a handler for a failure no retry can fix (malformed input): the job fails at once instead of
 * using up its attempts.
 */
export class PermanentJobError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PermanentJobError";
  }
}

export interface WorkerPoolOptions {
  queue: JobQueue;
  /** Lease holder name; unique per pool, so that two pools never complete each other's jobs. */
  owner?: string;
  /** Handlers running at once. Default: the number of cores. */
  concurrency?: number;
  /** Lease length in ms. Default 30,000. */
  leaseMs?: number;
  /** Heartbeat period in ms. Default a third of the lease, so two heartbeats may fail before it lapses. */
  heartbeatMs?: number;
  /** Poll period in ms when idle; `notify()` wakes the pool sooner. Default 1,000. */
  pollMs?: number;
  /**
   * Errors no job receives (the queue failing to claim, heartbeat or settle: database unavailable); the pool
   * keeps polling. Default: one line on stderr, so that they never disappear; the server logs them instead.
   */
  onError?: (error: unknown) => void;
}

export interface StopOptions {
  /** How long to wait for running handlers before abandoning them and giving their jobs back. Default 30,000 ms. */
  timeoutMs?: number;
  /**
   * Fire every running handler's signal at once instead of letting it finish (a fast shutdown); handlers
   * that then reject give their job back without using an attempt. Default false.
   */
  abort?: boolean;
}

interface Running {
  job: Job;
  controller: AbortController;
  heartbeatTimer: NodeJS.Timeout;
  /** The pool gave up on it at stop(): its late outcome is ignored; the lease is someone else's business. */
  abandoned: boolean;
  cancelled: boolean;
  /** stop({ abort: true }) aborted it. */
  stopRequested: boolean;
  settled: Promise<void>;
}

function reportToStderr(error: unknown): void {
  process.stderr.write(`skala worker pool: ${(error as Error)?.stack ?? String(error)}\n`);
}

function defaultOwner(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
}

/**
 * Claims jobs of the registered kinds and runs them in this process, at most `concurrency` at once, keeping
 * each lease alive with heartbeats. A handler's result completes the job; a thrown error fails it (retried
 * with backoff by the queue). CPU-heavy handlers are expected to move their work to worker threads
 * themselves; the pool only awaits them.
 *
 * @example
 * const pool = new WorkerPool({ queue, concurrency: 4 });
 * pool.register<{ segments: string[] }>("fleet.chunk", async (job, { signal }) => fitChunk(job.payload, signal));
 * pool.start();
 * await queue.enqueue([{ kind: "fleet.chunk", payload: { segments } }]);
 * pool.notify();
 * // on shutdown
 * await pool.stop({ timeoutMs: 10_000 });
 */
export class WorkerPool {
  readonly owner: string;
  private readonly queue: JobQueue;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly pollMs: number;
  private readonly onError: (error: unknown) => void;
  private readonly handlers = new Map<string, JobHandler>();
  private readonly running = new Map<string, Running>();
  private loop: Promise<void> | undefined;
  private stopping = false;
  private woken = false;
  private wake: (() => void) | undefined;

  constructor(options: WorkerPoolOptions) {
    this.queue = options.queue;
    this.owner = options.owner ?? defaultOwner();
    this.concurrency = options.concurrency ?? availableParallelism();
    this.leaseMs = options.leaseMs ?? 30_000;
    this.heartbeatMs = options.heartbeatMs ?? Math.max(1, Math.floor(this.leaseMs / 3));
    this.pollMs = options.pollMs ?? 1_000;
    this.onError = options.onError ?? reportToStderr;
    if (!Number.isSafeInteger(this.concurrency) || this.concurrency < 1) {
      throw new RangeError(`concurrency must be an integer ≥ 1, got ${this.concurrency}`);
    }
  }

  /** Registers the handler for a kind; the pool claims only kinds that have one. */
  register<Payload = unknown, Result = unknown>(kind: string, handler: JobHandler<Payload, Result>): this {
    this.handlers.set(kind, handler as JobHandler);
    if (this.loop) this.notify();
    return this;
  }

  /** Starts polling. Idempotent. */
  start(): this {
    if (this.loop || this.stopping) return this;
    this.loop = this.run();
    return this;
  }

  /** Wakes the pool now, for example after an enqueue in this process. */
  notify(): void {
    this.woken = true;
    this.wake?.();
  }

  /** Jobs this pool is running now. */
  get active(): number {
    return this.running.size;
  }

  /**
   * Stops claiming and waits for running handlers up to `timeoutMs` (aborting them first with `abort: true`);
   * then aborts those still running, gives their jobs back to the queue without using an attempt, and returns
   * without waiting for them: their late outcome is ignored.
   */
  async stop(options: StopOptions = {}): Promise<void> {
    this.stopping = true;
    this.notify();
    await this.loop;
    if (options.abort) {
      for (const entry of this.running.values()) {
        entry.stopRequested = true;
        entry.controller.abort(new Error("worker pool stopped"));
      }
    }
    const timeoutMs = options.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const outcome = await Promise.race([
      Promise.all([...this.running.values()].map((r) => r.settled)).then(() => "done" as const),
      timedOut,
    ]);
    clearTimeout(timer);
    if (outcome === "done") return;
    await Promise.all(
      [...this.running.values()].map(async (entry) => {
        entry.abandoned = true;
        clearInterval(entry.heartbeatTimer);
        entry.controller.abort(new Error("worker pool stopped"));
        this.running.delete(entry.job.id);
        await this.queue.release(entry.job.id, this.owner).catch(this.onError);
      }),
    );
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const free = this.concurrency - this.running.size;
      let claimed = 0;
      if (free > 0 && this.handlers.size > 0) {
        try {
          const jobs = await this.queue.claim({
            owner: this.owner,
            kinds: [...this.handlers.keys()],
            limit: free,
            leaseMs: this.leaseMs,
          });
          claimed = jobs.length;
          for (const job of jobs) this.execute(job);
        } catch (error) {
          this.onError(error);
        }
      }
      // Claim again at once while jobs keep filling the free slots; otherwise sleep until woken or polled.
      if (claimed > 0 && claimed === free && this.running.size < this.concurrency) continue;
      await this.sleep();
    }
  }

  private sleep(): Promise<void> {
    if (this.woken || this.stopping) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.woken = false;
        resolve();
      };
      const timer = setTimeout(done, this.pollMs);
      this.wake = done;
    });
  }

  private async settle(
    entry: Running,
    outcome: { ok: true; value: unknown } | { ok: false; error: unknown },
  ): Promise<void> {
    const { job } = entry;
    // A cancelled job's outcome is moot: the queue would refuse it, since the job is no longer ours.
    if (entry.cancelled) return;
    if (outcome.ok) {
      try {
        await this.queue.complete(job.id, this.owner, outcome.value);
      } catch (error) {
        // A result that cannot be stored will not become storable on retry.
        if (!isSkalaError(error) || error.code !== "VALIDATION_FAILED") throw error;
        await this.queue.fail(job.id, this.owner, error, { retryable: false });
      }
    } else if (entry.stopRequested) {
      // Aborted by stop({ abort: true }): not the job's fault, so it goes back without using an attempt.
      await this.queue.release(job.id, this.owner);
    } else {
      await this.queue.fail(job.id, this.owner, outcome.error, {
        retryable: !(outcome.error instanceof PermanentJobError),
      });
    }
  }

  private execute(job: Job): void {
    const handler = this.handlers.get(job.kind);
    const controller = new AbortController();
    const entry: Running = {
      job,
      controller,
      abandoned: false,
      cancelled: false,
      stopRequested: false,
      heartbeatTimer: setInterval(() => void heartbeat().catch(this.onError), this.heartbeatMs),
      settled: Promise.resolve(),
    };
    const lost = (held: boolean): boolean => {
      if (!held && !entry.cancelled) {
        entry.cancelled = true;
        controller.abort(
          new Error(`job ${job.id} is no longer held by this worker (cancelled or reclaimed)`),
        );
      }
      return held;
    };
    const heartbeat = async (): Promise<boolean> => {
      if (entry.abandoned || entry.cancelled) return false;
      return lost(await this.queue.heartbeat(job.id, this.owner, this.leaseMs));
    };
    const progress = async (report: unknown): Promise<boolean> => {
      if (entry.abandoned || entry.cancelled) return false;
      return lost(await this.queue.reportProgress(job.id, this.owner, report));
    };
    this.running.set(job.id, entry);
    entry.settled = (async () => {
      let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
      try {
        if (!handler) throw new PermanentJobError(`no handler registered for kind "${job.kind}"`);
        outcome = { ok: true, value: await handler(job, { signal: controller.signal, heartbeat, progress }) };
      } catch (error) {
        outcome = { ok: false, error };
      }
      clearInterval(entry.heartbeatTimer);
      if (entry.abandoned) return;
      try {
        await this.settle(entry, outcome);
      } catch (error) {
        this.onError(error);
      } finally {
        this.running.delete(job.id);
        // A free slot is the moment to look for more work (a retry this pool just requeued included).
        this.notify();
      }
    })();
  }
}
