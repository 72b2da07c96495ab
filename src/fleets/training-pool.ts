import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { pathToFileURL } from "node:url";
import type { Worker } from "node:worker_threads";
import { Piscina } from "piscina";
import type { SegmentPlan } from "./segment-plan.js";
import type { SegmentOutcome } from "./segment-trainer.js";

/** One unit of work for a training thread: a slice of a fleet's segments, all with the same plan. */
export interface TrainingTask {
  plan: SegmentPlan;
  segments: Array<{ seriesId: string; values: Float64Array }>;
}

export interface TrainingPoolOptions {
  /** Threads; one per core by default. */
  threads?: number;
  /** Thread failures no task receives (a thread that crashed while idle). Default: written to stderr. */
  onError?: (error: unknown) => void;
}

/** Rejects a task the pool gave up on because it closed: the job queue retries it elsewhere or later. */
export class TrainingPoolClosedError extends Error {
  constructor(options?: { cause?: unknown }) {
    super("the training pool closed before the task finished", options);
    this.name = "TrainingPoolClosedError";
  }
}

/**
 * Fitting is CPU-bound and synchronous; on the event loop it would stall the API. Segments are trained on a
 * fixed set of worker threads (piscina; one per core by default), fed from a queue. A thread that dies is
 * replaced once and its task fails, so the job queue retries it; an aborted task terminates the thread running
 * it (synchronous fitting cannot be interrupted otherwise), so a cancelled fleet stops mid-chunk.
 *
 * @example
 * const pool = new TrainingPool({ threads: 4 });
 * const outcomes = await pool.train({ plan, segments }, job.signal);
 * await pool.close(); // every queued or running task rejects with TrainingPoolClosedError
 */
export class TrainingPool {
  readonly size: number;
  private readonly onError: (error: unknown) => void;
  private pool: Piscina<TrainingTask, SegmentOutcome[]> | undefined;
  private closed = false;

  constructor(options: TrainingPoolOptions = {}) {
    this.size = options.threads ?? Math.max(1, availableParallelism());
    if (!Number.isSafeInteger(this.size) || this.size < 1)
      throw new RangeError(`threads must be an integer ≥ 1, got ${this.size}`);
    this.onError =
      options.onError ??
      ((error) => process.stderr.write(`skala training threads: ${(error as Error)?.stack ?? error}\n`));
  }

  /** The threads alive now, for diagnostics and tests: none before the first task, never more than `size`. */
  liveThreads(): readonly Worker[] {
    return this.pool?.threads ?? [];
  }

  /** Trains a task on a thread; `signal` aborts it (terminating the thread) with an AbortError. */
  async train(task: TrainingTask, signal?: AbortSignal): Promise<SegmentOutcome[]> {
    if (this.closed) throw new TrainingPoolClosedError();
    this.pool ??= this.start();
    try {
      return await this.pool.run(task, { ...(signal && { signal }) });
    } catch (error) {
      if (this.closed && (error as Error)?.name !== "AbortError")
        throw new TrainingPoolClosedError({ cause: error });
      throw error;
    }
  }

  /** Terminates every thread; queued and running tasks reject with TrainingPoolClosedError. */
  async close(): Promise<void> {
    this.closed = true;
    await this.pool?.destroy();
  }

  /** Threads start on the first task, so processes that never train (API only) hold none. */
  private start(): Piscina<TrainingTask, SegmentOutcome[]> {
    // Compiled, the threads run training-thread.js. From source (tsx, Vitest) they run the TypeScript file
    // through tsx's loader, which a worker thread gets only from its own execArgv.
    const fromSource = import.meta.url.endsWith(".ts");
    const pool = new Piscina<TrainingTask, SegmentOutcome[]>({
      filename: new URL(fromSource ? "./training-thread.ts" : "./training-thread.js", import.meta.url).href,
      ...(fromSource && {
        execArgv: ["--import", pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href],
      }),
      minThreads: this.size,
      maxThreads: this.size,
    });
    // Piscina emits 'error' for a thread that failed with no task to reject; unhandled, it would crash us.
    pool.on("error", (error: unknown) => this.onError(error));
    return pool;
  }
}
