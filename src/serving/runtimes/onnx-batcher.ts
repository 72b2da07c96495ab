import { elementCount, ProtocolError, type Tensor, type TensorData } from "../protocol/index.js";
import type { SessionMetadata } from "./onnx-messages.js";
import { quote } from "./runtime-support.js";

/**
 * Dynamic batching for ONNX models: compatible requests of one model that wait at the same time are merged
 * along dimension 0 into one session run, and the outputs are split back by each request's rows. One native
 * run of n rows costs far less than n runs of one row (a postMessage round trip, feed conversion and
 * onnxruntime's per-run overhead each), so a busy model answers more requests per second.
 *
 * Policy ("opportunistic", work-conserving): a request that reaches an idle model (no batch of it in flight)
 * runs at once, so a lone request never waits for company. While a run is in flight, arrivals collect in an
 * open batch per compatibility key, which is sent when it is full (`maxBatchSize` requests or `maxRows`
 * rows), when its oldest request has waited `maxDelayMs`, or when the model's in-flight run answers and the
 * model is idle again (oldest open batch first). Batches form exactly when requests would otherwise queue.
 */

export interface OnnxBatchingOptions {
  /** Most requests merged into one run; 1 or less turns batching off (the default). */
  maxBatchSize: number;
  /** Longest the oldest request of an open batch waits for others while the model is busy, in milliseconds. */
  maxDelayMs: number;
  /**
   * Most rows (sum of the requests' first dimensions) in one merged run, which bounds the memory of the merged
   * tensors and the latency of one run. A request with more rows runs alone. Default 1024.
   */
  maxRows?: number;
}

export const DEFAULT_BATCH_MAX_ROWS = 1024;

/** Counters over every model of an ONNX runtime, for metrics. */
export interface OnnxBatchStats {
  /** Runs the batchers sent; a request that found its model idle is a batch of one. */
  batches: number;
  /** Requests those runs answered (aborted ones included: their results were dropped). */
  requests: number;
  /** Rows those runs held. */
  rows: number;
  /** requests / batches; 0 before the first batch. */
  averageBatchSize: number;
  /** Requests waiting in open batches now. */
  waiting: number;
  /** Why batches were sent: full, oldest waited maxDelayMs, the model went idle, the model was unloaded. */
  flushes: { full: number; delay: number; idle: number; unload: number };
  /**
   * Requests that ran alone, unbatched, although batching is on: their model has a fixed first dimension,
   * they fetch such an output, their inputs disagree on the first dimension, or they hold no rows or more
   * than maxRows.
   */
  unbatched: number;
}

/** Mutable counters shared by every batcher of one runtime. */
export class BatchCounters {
  batches = 0;
  requests = 0;
  rows = 0;
  waiting = 0;
  unbatched = 0;
  readonly flushes = { full: 0, delay: 0, idle: 0, unload: 0 };

  snapshot(): OnnxBatchStats {
    return {
      batches: this.batches,
      requests: this.requests,
      rows: this.rows,
      averageBatchSize: this.batches === 0 ? 0 : this.requests / this.batches,
      waiting: this.waiting,
      flushes: { ...this.flushes },
      unbatched: this.unbatched,
    };
  }
}

/** Settings after validation; `transfer` is the runtime's transferInputs, used for runs of one request. */
export interface BatchSettings {
  maxBatchSize: number;
  maxDelayMs: number;
  maxRows: number;
  transfer: boolean;
}

/** Validates the options; undefined means batching is off. Bad values fail at startup, not per request. */
export function resolveBatching(
  options: OnnxBatchingOptions | undefined,
  transfer: boolean,
): BatchSettings | undefined {
  if (options === undefined) return undefined;
  const { maxBatchSize, maxDelayMs } = options;
  const maxRows = options.maxRows ?? DEFAULT_BATCH_MAX_ROWS;
  if (!Number.isFinite(maxBatchSize)) throw new RangeError(`batching.maxBatchSize is ${maxBatchSize}`);
  if (Math.floor(maxBatchSize) <= 1) return undefined;
  if (!Number.isFinite(maxDelayMs) || maxDelayMs < 0) {
    throw new RangeError(`batching.maxDelayMs is ${maxDelayMs}; expected a finite number ≥ 0`);
  }
  if (!Number.isFinite(maxRows) || maxRows < 1) {
    throw new RangeError(`batching.maxRows is ${maxRows}; expected a finite number ≥ 1`);
  }
  return { maxBatchSize: Math.floor(maxBatchSize), maxDelayMs, maxRows: Math.floor(maxRows), transfer };
}

/** What a batcher needs from the worker pool for one model; a seam so the policy is testable without workers. */
export interface BatchTarget {
  /** Names the model in error messages. */
  readonly label: string;
  /** Takes one place in the worker's bounded queue for a waiting request; throws the pool's 503 when full. */
  admit(): void;
  /** Gives places back (the requests were sent or aborted). */
  release(count: number): void;
  run(
    feeds: readonly Tensor[],
    fetches: readonly string[],
    options: { weight: number; transfer: boolean; signal?: AbortSignal },
  ): Promise<Tensor[]>;
}

type FlushReason = keyof OnnxBatchStats["flushes"];

interface Waiter {
  /** Sorted by name, so the inputs of compatible requests line up index by index. */
  inputs: Tensor[];
  rows: number;
  resolve: (outputs: Tensor[]) => void;
  reject: (error: unknown) => void;
  /** The open batch holding it; undefined once sent. */
  batch: OpenBatch | undefined;
  settled: boolean;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface OpenBatch {
  key: string;
  fetches: readonly string[];
  waiters: Waiter[];
  rows: number;
  timer: NodeJS.Timeout | undefined;
}

/** The dynamic batcher of one loaded model; see the module comment for the policy. */
export class OnnxBatcher {
  /** Open batches by compatibility key; a Map iterates in insertion order, so the first is the oldest. */
  private readonly open = new Map<string, OpenBatch>();
  /** Runs this batcher sent that have not answered; 0 means the model is idle. */
  private inFlight = 0;

  private constructor(
    private readonly target: BatchTarget,
    private readonly settings: BatchSettings,
    private readonly counters: BatchCounters,
    private readonly batchableOutputs: ReadonlySet<string>,
  ) {}

  /**
   * A batcher for a model whose every input has a variable first dimension, or undefined when the model
   * cannot be batched (then it runs unbatched). Outputs with a fixed first dimension are never fetched in a
   * merged run: a request that asks for one runs alone.
   */
  static create(
    metadata: SessionMetadata,
    target: BatchTarget,
    settings: BatchSettings,
    counters: BatchCounters,
  ): OnnxBatcher | undefined {
    const variable = (shape: readonly number[]): boolean => shape.length > 0 && shape[0] === -1;
    if (metadata.inputs.length === 0 || !metadata.inputs.every((t) => variable(t.shape))) return undefined;
    const outputs = new Set(metadata.outputs.filter((t) => variable(t.shape)).map((t) => t.name));
    if (outputs.size === 0) return undefined;
    return new OnnxBatcher(target, settings, counters, outputs);
  }

  /**
   * Answers one request, merged with compatible ones when the model is busy. The inputs must already be
   * validated against the model (a client mistake must never reach a batch and fail its neighbours).
   */
  async infer(
    inputs: readonly Tensor[],
    fetches: readonly string[],
    signal?: AbortSignal,
  ): Promise<Tensor[]> {
    // async, yet everything up to the returned promise runs synchronously: the request joins its batch
    // during the call, which keeps arrival order and makes the policy deterministic under test.
    signal?.throwIfAborted();
    const rows = this.rowsOf(inputs, fetches);
    if (rows === undefined) {
      this.counters.unbatched++;
      const options: { weight: number; transfer: boolean; signal?: AbortSignal } = {
        weight: 1,
        transfer: this.settings.transfer,
      };
      if (signal !== undefined) options.signal = signal;
      return this.target.run(inputs, fetches, options);
    }
    // Throws the pool's 503 before anything is queued when the worker's queue is full.
    this.target.admit();
    this.counters.waiting++;
    const sorted = [...inputs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const key = JSON.stringify([fetches, sorted.map((t) => [t.name, t.datatype, t.shape.slice(1)])]);
    return new Promise<Tensor[]>((resolve, reject) => {
      const waiter: Waiter = {
        inputs: sorted,
        rows,
        resolve,
        reject,
        batch: undefined,
        settled: false,
        signal,
        onAbort: undefined,
      };
      if (signal !== undefined) {
        waiter.onAbort = () => this.abort(waiter);
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.enqueue(waiter, key, fetches);
    });
  }

  /** Sends every open batch now (the model is being unloaded: its accepted requests still get answers). */
  flushAll(): void {
    for (const batch of [...this.open.values()]) this.flush(batch, "unload");
  }

  /** Rejects every waiting request with `error` (the runtime is closing). Sent runs answer as they will. */
  close(error: Error): void {
    const batches = [...this.open.values()];
    this.open.clear();
    for (const batch of batches) {
      clearTimeout(batch.timer);
      const waiters = batch.waiters.splice(0);
      this.target.release(waiters.length);
      this.counters.waiting -= waiters.length;
      for (const waiter of waiters) {
        waiter.batch = undefined;
        this.settle(waiter, () => waiter.reject(error));
      }
    }
  }

  /**
   * The rows a request adds to a batch, or undefined when it must run alone: it fetches an output whose first
   * dimension is fixed, its inputs disagree on the first dimension (its rows could not be split back out), a
   * tensor's data does not match its shape (merging would shift every later request's rows), or it holds no
   * rows or more than a whole batch may.
   */
  private rowsOf(inputs: readonly Tensor[], fetches: readonly string[]): number | undefined {
    if (!fetches.every((name) => this.batchableOutputs.has(name))) return undefined;
    let rows: number | undefined;
    for (const input of inputs) {
      const first = input.shape[0];
      if (first === undefined || (rows !== undefined && first !== rows)) return undefined;
      if (input.data.length !== elementCount(input.shape)) return undefined;
      rows = first;
    }
    if (rows === undefined || rows === 0 || rows > this.settings.maxRows) return undefined;
    return rows;
  }

  private enqueue(waiter: Waiter, key: string, fetches: readonly string[]): void {
    let batch = this.open.get(key);
    if (batch !== undefined && batch.rows + waiter.rows > this.settings.maxRows) {
      this.flush(batch, "full");
      batch = undefined;
    }
    if (batch === undefined) {
      batch = { key, fetches: [...fetches], waiters: [], rows: 0, timer: undefined };
      this.open.set(key, batch);
    }
    batch.waiters.push(waiter);
    batch.rows += waiter.rows;
    waiter.batch = batch;
    if (batch.waiters.length >= this.settings.maxBatchSize || batch.rows >= this.settings.maxRows) {
      this.flush(batch, "full");
    } else if (this.inFlight === 0) {
      this.flush(batch, "idle");
    } else if (batch.timer === undefined) {
      const open = batch;
      batch.timer = setTimeout(() => this.flush(open, "delay"), this.settings.maxDelayMs);
      // A waiting batch must not keep the process alive on its own.
      batch.timer.unref();
    }
  }

  private abort(waiter: Waiter): void {
    if (waiter.settled) return;
    const batch = waiter.batch;
    if (batch !== undefined) {
      // Still waiting: leave the batch, so the run never carries rows nobody will read.
      const index = batch.waiters.indexOf(waiter);
      if (index >= 0) batch.waiters.splice(index, 1);
      batch.rows -= waiter.rows;
      waiter.batch = undefined;
      this.target.release(1);
      this.counters.waiting--;
      if (batch.waiters.length === 0) {
        clearTimeout(batch.timer);
        if (this.open.get(batch.key) === batch) this.open.delete(batch.key);
      }
    }
    // Sent already: the run goes on (native work cannot be interrupted) and this request's rows are dropped.
    this.settle(waiter, () => waiter.reject(waiter.signal?.reason));
  }

  private flush(batch: OpenBatch, reason: FlushReason): void {
    if (this.open.get(batch.key) === batch) this.open.delete(batch.key);
    clearTimeout(batch.timer);
    batch.timer = undefined;
    const waiters = batch.waiters.splice(0);
    if (waiters.length === 0) return;
    for (const waiter of waiters) waiter.batch = undefined;
    const rows = batch.rows;
    // The places move from "waiting" to the run, which counts as its requests: release first, so the run
    // fits in the room they leave.
    this.target.release(waiters.length);
    this.counters.waiting -= waiters.length;
    this.counters.batches++;
    this.counters.requests += waiters.length;
    this.counters.rows += rows;
    this.counters.flushes[reason]++;
    this.inFlight++;
    let run: Promise<Tensor[]>;
    try {
      const only = waiters.length === 1 ? waiters[0] : undefined;
      // A batch of one runs its own tensors, exactly as unbatched; merged tensors are the batcher's own,
      // so they are handed to the worker instead of copied.
      run = this.target.run(only?.inputs ?? mergeInputs(waiters), batch.fetches, {
        weight: waiters.length,
        transfer: only === undefined ? true : this.settings.transfer,
      });
    } catch (error) {
      run = Promise.reject(error);
    }
    run.then(
      (outputs) => {
        this.deliver(waiters, outputs, rows);
        this.answered();
      },
      (error: unknown) => {
        for (const waiter of waiters) this.settle(waiter, () => waiter.reject(error));
        this.answered();
      },
    );
  }

  /**
   * A run answered. Runs in the same turn as the settling of its requests, whose continuations come later, so
   * a caller that sends its next request on an answer always finds the model idle.
   */
  private answered(): void {
    this.inFlight--;
    if (this.inFlight > 0) return;
    const oldest = this.open.values().next();
    if (oldest.done !== true) this.flush(oldest.value, "idle");
  }

  private deliver(waiters: readonly Waiter[], outputs: Tensor[], rows: number): void {
    const only = waiters.length === 1 ? waiters[0] : undefined;
    if (only !== undefined) {
      this.settle(only, () => only.resolve(outputs));
      return;
    }
    let parts: Tensor[][];
    try {
      parts = splitOutputs(outputs, waiters, rows, this.target.label);
    } catch (error) {
      for (const waiter of waiters) this.settle(waiter, () => waiter.reject(error));
      return;
    }
    waiters.forEach((waiter, i) => {
      this.settle(waiter, () => waiter.resolve(parts[i] ?? []));
    });
  }

  /** Settles once: an aborted request is already rejected when its batch answers. */
  private settle(waiter: Waiter, action: () => void): void {
    if (waiter.settled) return;
    waiter.settled = true;
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener("abort", waiter.onAbort);
    action();
  }
}

/** The typed-array operations merging and splitting need, common to every numeric container. */
interface RowData {
  readonly length: number;
  set(source: ArrayLike<unknown>, offset: number): void;
  slice(start: number, end: number): TensorData;
}

/** Concatenates each input along dimension 0; the waiters' inputs line up by index (same compatibility key). */
function mergeInputs(waiters: readonly Waiter[]): Tensor[] {
  const first = waiters[0];
  if (first === undefined) return [];
  let rows = 0;
  for (const waiter of waiters) rows += waiter.rows;
  return first.inputs.map((input, i) => {
    const parts = waiters.map((waiter) => (waiter.inputs[i] as Tensor).data);
    const shape = [rows, ...input.shape.slice(1)];
    const length = elementCount(shape);
    let data: TensorData;
    if (Array.isArray(input.data)) {
      const strings: string[] = [];
      for (const part of parts as string[][]) for (const value of part) strings.push(value);
      data = strings;
    } else {
      // Same key, same datatype, so every part has the first one's constructor.
      const make = input.data.constructor as new (length: number) => RowData;
      const merged = new make(length);
      let offset = 0;
      for (const part of parts) {
        merged.set(part as ArrayLike<unknown>, offset);
        offset += part.length;
      }
      data = merged as unknown as TensorData;
    }
    return { name: input.name, datatype: input.datatype, shape, data } as Tensor;
  });
}

/**
 * Splits every output along dimension 0 by each request's rows. An output whose first dimension is not the
 * batch's rows means the model mixes rows (or is not batched on dimension 0), so nobody's answer can be cut
 * out of it: 500 for the whole batch, naming the model.
 */
function splitOutputs(
  outputs: readonly Tensor[],
  waiters: readonly Waiter[],
  rows: number,
  label: string,
): Tensor[][] {
  for (const output of outputs) {
    if (output.shape[0] !== rows) {
      throw new ProtocolError(
        "MODEL_FAILED",
        `model ${quote(label)} cannot be batched: output ${quote(output.name)} has shape ` +
          `[${output.shape.join(",")}] for a batch of ${rows} rows; its first dimension must be the batch`,
      );
    }
  }
  const parts: Tensor[][] = waiters.map(() => []);
  for (const output of outputs) {
    const rest = output.shape.slice(1);
    const rowSize = elementCount(rest);
    const data = output.data as unknown as RowData;
    let start = 0;
    waiters.forEach((waiter, i) => {
      const end = start + waiter.rows;
      // slice copies, so each answer owns its buffer and can be transferred or encoded on its own.
      const piece = data.slice(start * rowSize, end * rowSize);
      parts[i]?.push({
        name: output.name,
        datatype: output.datatype,
        shape: [waiter.rows, ...rest],
        data: piece,
      } as Tensor);
      start = end;
    });
  }
  return parts;
}
