import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { backoffDelayMs } from "../jobs/index.js";
import type { PredictionRecord } from "../serving/index.js";
import {
  type PendingPrediction,
  type PredictionLogRow,
  preparePrediction,
  serialisePrediction,
} from "./prediction-record.js";

/** Where batches of prediction rows go: the store (createStorePredictionSink) or a test double. */
export interface PredictionSink {
  write(rows: PredictionLogRow[]): Promise<void>;
}

/** Why `onError` was called; none of these ever reaches the caller of `record()`. */
export type PredictionLogErrorContext =
  /** The sink rejected a batch; `willRetry` false means the batch was dropped. */
  | { stage: "write"; rows: number; attempt: number; willRetry: boolean }
  /** A record could not be prepared or encoded (e.g. an invalid date); it was dropped. */
  | { stage: "record" | "serialise"; rows: 1 };

export interface PredictionLoggerOptions {
  sink: PredictionSink;
  /** Share of predictions kept, 0 to 1 (default 1). */
  sampleRate?: number;
  /** Records per sink write; reaching it schedules a flush (default 500). */
  batchSize?: number;
  /** Records held in memory, waiting or being written; past it new records are dropped (default 10,000). */
  maxBuffered?: number;
  /** Rough heap the held records keep alive (their tensors); past it new records are dropped (default 64 MiB). */
  maxBufferedBytes?: number;
  /** A flush runs at least this often while records wait (default 1,000 ms). */
  flushIntervalMs?: number;
  /** UTF-8 bytes of inputs + outputs JSON per record; past it they are truncated to a marker (default 64 KiB). */
  maxPayloadBytes?: number;
  /** Sink writes per batch before the batch is dropped (default 5). */
  maxAttempts?: number;
  /** Backoff between attempts: doubling from `baseMs` up to `maxMs`, jittered (default 100 ms to 5 s). */
  retry?: { baseMs: number; maxMs: number };
  onError?: (error: unknown, context: PredictionLogErrorContext) => void;
  /** Sampling of records without a request id, and retry jitter (default Math.random). */
  random?: () => number;
}

export interface PredictionLogStats {
  /** Calls to `record()`. */
  recorded: number;
  /** Not kept by sampling. */
  sampledOut: number;
  /** Rows the sink acknowledged. */
  written: number;
  /** Kept by sampling but never written: buffer full, a batch the sink kept failing, or after `close()`. */
  dropped: number;
  /** Rows whose inputs or outputs were replaced by a truncation marker. */
  truncated: number;
  /** Sink writes that failed (each retry counts). */
  failedFlushes: number;
  /** Held now: waiting, or in the batch being written. recorded = sampledOut + written + dropped + buffered. */
  buffered: number;
  /** Rough heap held by the buffered records. */
  bufferedBytes: number;
}

const DEFAULTS = {
  sampleRate: 1,
  batchSize: 500,
  maxBuffered: 10_000,
  maxBufferedBytes: 64 * 1024 * 1024,
  flushIntervalMs: 1_000,
  maxPayloadBytes: 64 * 1024,
  maxAttempts: 5,
  retry: { baseMs: 100, maxMs: 5_000 },
} as const;

/** Serialisation yields to the event loop after about this much JSON, so a flush never blocks requests long. */
const YIELD_EVERY_BYTES = 1024 * 1024;

/**
 * A stable fraction in [0, 1) for a key: FNV-1a over the UTF-16 code units, then murmur3's finaliser so that
 * ids differing in one trailing character spread over the whole range. Deliberately not routing's
 * `stableHash(model, id)`: a sample that shared the traffic split's hash would log only some routes.
 */
export function sampleFraction(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

/**
 * The prediction logging hook. `record()` is synchronous and cheap: it samples, sizes the record and pushes it
 * into a bounded buffer, and never throws. Encoding and writing happen later, in batches, one flush at a time:
 * when `batchSize` records wait (scheduled with setImmediate, never inline) or every `flushIntervalMs`. A
 * failing sink is retried with backoff, then the batch is dropped; while it is retried the buffer keeps its
 * bound and new records are dropped. Every loss is counted in `stats()`. See README.md, "Prediction log".
 */
export class PredictionLogger {
  private readonly sink: PredictionSink;
  private readonly sampleRate: number;
  private readonly batchSize: number;
  private readonly maxBuffered: number;
  private readonly maxBufferedBytes: number;
  private readonly maxPayloadBytes: number;
  private readonly maxAttempts: number;
  private readonly retry: { baseMs: number; maxMs: number };
  private readonly onError: ((error: unknown, context: PredictionLogErrorContext) => void) | undefined;
  private readonly random: () => number;
  private readonly timer: NodeJS.Timeout;

  /** FIFO of records waiting for a flush. */
  private buffer: PendingPrediction[] = [];
  private inFlight = 0;
  private heldBytes = 0;
  private draining: Promise<void> | undefined;
  private flushScheduled = false;
  private closed = false;
  /** Records pushed into the buffer, and records taken out and settled (written or dropped); flush() waits on these. */
  private enqueued = 0;
  private settled = 0;
  private readonly counts = {
    recorded: 0,
    sampledOut: 0,
    written: 0,
    dropped: 0,
    truncated: 0,
    failedFlushes: 0,
  };

  constructor(options: PredictionLoggerOptions) {
    this.sink = options.sink;
    const sampleRate = options.sampleRate ?? DEFAULTS.sampleRate;
    if (!(sampleRate >= 0 && sampleRate <= 1)) throw new RangeError("sampleRate must be between 0 and 1");
    this.sampleRate = sampleRate;
    this.batchSize = positiveInteger("batchSize", options.batchSize ?? DEFAULTS.batchSize);
    this.maxBuffered = positiveInteger("maxBuffered", options.maxBuffered ?? DEFAULTS.maxBuffered);
    this.maxBufferedBytes = positiveInteger(
      "maxBufferedBytes",
      options.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes,
    );
    this.maxPayloadBytes = positiveInteger(
      "maxPayloadBytes",
      options.maxPayloadBytes ?? DEFAULTS.maxPayloadBytes,
    );
    this.maxAttempts = positiveInteger("maxAttempts", options.maxAttempts ?? DEFAULTS.maxAttempts);
    this.retry = options.retry ?? DEFAULTS.retry;
    this.onError = options.onError;
    this.random = options.random ?? Math.random;
    const interval = positiveInteger("flushIntervalMs", options.flushIntervalMs ?? DEFAULTS.flushIntervalMs);
    this.timer = setInterval(() => {
      if (this.buffer.length > 0 && this.draining === undefined) void this.drain();
    }, interval);
    this.timer.unref();
  }

  /**
   * Whether a prediction with this request id is kept: a stable hash of the id, so a retry and the shadow copy
   * of a request agree; random without an id. Callers may decide once and pass the answer to `record()`.
   */
  sampled(requestId?: string): boolean {
    if (this.sampleRate >= 1) return true;
    if (this.sampleRate <= 0) return false;
    const fraction = requestId === undefined ? this.random() : sampleFraction(requestId);
    return fraction < this.sampleRate;
  }

  /**
   * Logs a prediction, or counts why not. Synchronous, never throws, never calls the sink. `sampled` overrides
   * the sampling decision (e.g. one decision shared by a request and its shadow copy when it has no id).
   */
  record(record: PredictionRecord, options?: { sampled?: boolean }): void {
    this.counts.recorded++;
    try {
      if (!(options?.sampled ?? this.sampled(record.requestId))) {
        this.counts.sampledOut++;
        return;
      }
      if (this.closed || this.buffer.length + this.inFlight >= this.maxBuffered) {
        this.counts.dropped++;
        return;
      }
      const pending = preparePrediction(record, this.maxPayloadBytes);
      if (this.heldBytes + pending.retainedBytes > this.maxBufferedBytes) {
        this.counts.dropped++;
        return;
      }
      this.buffer.push(pending);
      this.heldBytes += pending.retainedBytes;
      this.enqueued++;
      if (this.buffer.length >= this.batchSize) this.scheduleFlush();
    } catch (error) {
      this.counts.dropped++;
      this.report(error, { stage: "record", rows: 1 });
    }
  }

  /** Writes (or drops, if the sink keeps failing) every record buffered when called. */
  async flush(): Promise<void> {
    const target = this.enqueued;
    while (this.settled < target) await this.drain();
  }

  /** Stops the timer, refuses new records (counted as dropped) and flushes what is buffered. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.flush();
  }

  stats(): PredictionLogStats {
    return {
      ...this.counts,
      buffered: this.buffer.length + this.inFlight,
      bufferedBytes: this.heldBytes,
    };
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.draining !== undefined) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.drain();
    });
  }

  /** The single flush: one runs at a time, and callers arriving meanwhile share it. Never rejects. */
  private drain(): Promise<void> {
    this.draining ??= this.drainAll().finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  private async drainAll(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.batchSize);
      this.inFlight = batch.length;
      const batchBytes = batch.reduce((sum, p) => sum + p.retainedBytes, 0);
      let written = false;
      try {
        const rows = await this.serialise(batch);
        written = rows.length === 0 || (await this.write(rows));
        if (written) this.counts.written += rows.length;
        else this.counts.dropped += rows.length;
      } catch (error) {
        // Not expected (write() and serialise() catch what they call); counted, never rethrown.
        this.counts.dropped += batch.length;
        this.report(error, { stage: "write", rows: batch.length, attempt: 0, willRetry: false });
      } finally {
        this.inFlight = 0;
        this.heldBytes -= batchBytes;
        this.settled += batch.length;
      }
      if (!written && this.closed) {
        // The sink is down and the logger is closing: do not spend the backoff again on every batch left.
        this.counts.dropped += this.buffer.length;
        this.settled += this.buffer.length;
        this.heldBytes = 0;
        this.buffer = [];
      }
    }
  }

  /** Encodes a batch, yielding to the event loop every megabyte or so; records that fail to encode are dropped. */
  private async serialise(batch: readonly PendingPrediction[]): Promise<PredictionLogRow[]> {
    const rows: PredictionLogRow[] = [];
    let sinceYield = 0;
    for (const pending of batch) {
      try {
        const { row, truncated } = serialisePrediction(pending, this.maxPayloadBytes);
        rows.push(row);
        if (truncated) this.counts.truncated++;
        sinceYield += row.inputs.length + (row.outputs?.length ?? 0);
      } catch (error) {
        this.counts.dropped++;
        this.report(error, { stage: "serialise", rows: 1 });
      }
      if (sinceYield >= YIELD_EVERY_BYTES) {
        sinceYield = 0;
        await yieldToEventLoop();
      }
    }
    return rows;
  }

  /** Writes a batch with retries; false when it was given up. */
  private async write(rows: PredictionLogRow[]): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.sink.write(rows);
        return true;
      } catch (error) {
        this.counts.failedFlushes++;
        const willRetry = attempt < this.maxAttempts;
        this.report(error, { stage: "write", rows: rows.length, attempt, willRetry });
        if (!willRetry) return false;
        // The wait keeps the process alive only while closing, so close() can finish its retries.
        await sleep(backoffDelayMs(attempt, this.retry, this.random), !this.closed);
      }
    }
  }

  private report(error: unknown, context: PredictionLogErrorContext): void {
    try {
      this.onError?.(error, context);
    } catch {
      // A failing error callback must not break the flush loop.
    }
  }
}

function sleep(ms: number, unref: boolean): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (unref) timer.unref();
  });
}
