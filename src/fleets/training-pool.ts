import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { SegmentPlan } from "./segment-plan.js";
import type { SegmentOutcome } from "./segment-trainer.js";

/** One unit of work for a training thread: a slice of a fleet's segments, all with the same plan. */
export interface TrainingTask {
  plan: SegmentPlan;
  segments: Array<{ seriesId: string; values: Float64Array }>;
}

interface Pending {
  task: TrainingTask;
  resolve: (outcomes: SegmentOutcome[]) => void;
  reject: (error: Error) => void;
}

/**
 * Fitting is CPU-bound and synchronous; on the event loop it would stall the API. Segments are trained on a
 * fixed set of worker threads (one per core by default), fed from a queue; a thread that dies is replaced and
 * its task fails, so the job queue retries it.
 */
export class TrainingPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Pending>();
  private readonly queue: Pending[] = [];
  private closed = false;

  private started = false;

  /** Threads start on the first task, so processes that never train (API only) hold none. */
  constructor(private readonly size = Math.max(1, availableParallelism())) {}

  get threads(): number {
    return this.size;
  }

  train(task: TrainingTask): Promise<SegmentOutcome[]> {
    if (this.closed) return Promise.reject(new Error("training pool is closed"));
    if (!this.started) {
      this.started = true;
      for (let i = 0; i < this.size; i++) this.idle.push(this.spawn());
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) pending.reject(new Error("training pool closed"));
    await Promise.all([...this.idle, ...this.busy.keys()].map((worker) => worker.terminate()));
    this.idle.length = 0;
  }

  private spawn(): Worker {
    // Compiled, the thread runs training-thread.js. From source (tsx, Vitest) it runs the TypeScript file,
    // so the thread first registers tsx's loader: execArgv loaders do not reach worker threads on Node 20.
    const fromSource = import.meta.url.endsWith(".ts");
    const worker = fromSource
      ? new Worker(
          `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL("./training-thread.ts", import.meta.url).href)}); });`,
          { eval: true },
        )
      : new Worker(new URL("./training-thread.js", import.meta.url));
    worker.unref();
    worker.on("message", (outcomes: SegmentOutcome[]) => {
      const pending = this.busy.get(worker);
      this.busy.delete(worker);
      this.idle.push(worker);
      pending?.resolve(outcomes);
      this.dispatch();
    });
    worker.on("error", (error) => this.replace(worker, error));
    worker.on("exit", (code) => {
      if (!this.closed && code !== 0)
        this.replace(worker, new Error(`training thread exited with code ${code}`));
    });
    return worker;
  }

  private replace(worker: Worker, error: Error): void {
    const pending = this.busy.get(worker);
    this.busy.delete(worker);
    const at = this.idle.indexOf(worker);
    if (at >= 0) this.idle.splice(at, 1);
    pending?.reject(error);
    if (!this.closed) {
      this.idle.push(this.spawn());
      this.dispatch();
    }
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop() as Worker;
      const pending = this.queue.shift() as Pending;
      this.busy.set(worker, pending);
      worker.ref();
      worker.postMessage(pending.task);
    }
    for (const worker of this.idle) worker.unref();
  }
}
