import { afterAll, beforeAll, describe, expect, expectTypeOf, it, vi } from "vitest";
import {
  type PredictionRecord,
  type PredictionRecorder,
  type Tensor,
  trafficPoint,
} from "../serving/index.js";
import type { Store } from "../store/index.js";
import { freshStore, testDialects } from "../store/test-support/dialects.js";
import {
  createStorePredictionSink,
  type LoggedTensors,
  listPredictions,
  type PredictionLogErrorContext,
  PredictionLogger,
  type PredictionLoggerOptions,
  type PredictionLogRow,
  type PredictionSink,
  prunePredictions,
  sampleFraction,
  schedulePredictionPruning,
  type TruncatedTensors,
} from "./index.js";
import { statementChunks } from "./prediction-log.repository.js";

const AT = new Date("2026-11-23T10:00:00.000Z");

function fp32(name: string, values: number[]): Tensor {
  return { name, datatype: "FP32", shape: [1, values.length], data: Float32Array.from(values) };
}

function prediction(overrides: Partial<PredictionRecord> = {}): PredictionRecord {
  return {
    project: "default",
    model: "churn",
    version: 1,
    versionId: "v-1",
    route: "direct",
    inputs: [fp32("x", [1, 2, 3])],
    outputs: [fp32("y", [0.5])],
    latencyMs: 1.25,
    at: AT,
    ...overrides,
  };
}

/** An in-memory sink that records every batch; `block()` makes writes wait until `release()`. */
function memorySink() {
  const batches: PredictionLogRow[][] = [];
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const sink: PredictionSink & {
    batches: PredictionLogRow[][];
    rows(): PredictionLogRow[];
    block(): void;
    release(): void;
  } = {
    batches,
    rows: () => batches.flat(),
    async write(rows) {
      if (gate) await gate;
      batches.push(rows);
    },
    block() {
      gate = new Promise((resolve) => {
        open = resolve;
      });
    },
    release() {
      open?.();
      gate = undefined;
    },
  };
  return sink;
}

const loggers: PredictionLogger[] = [];
function logger(options: PredictionLoggerOptions): PredictionLogger {
  const created = new PredictionLogger({ flushIntervalMs: 60_000, ...options });
  loggers.push(created);
  return created;
}
afterAll(async () => {
  // Loggers left with blocked or failing sinks: stop their timers without waiting on them.
  for (const l of loggers) void l.close();
});

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("PredictionLogger", () => {
  it("fits the inference service's recorder port (checked by tsc)", () => {
    expectTypeOf<PredictionLogger>().toMatchTypeOf<PredictionRecorder>();
  });

  it("never calls the sink from record(), and flushes a full batch on a later turn", async () => {
    const sink = memorySink();
    const write = vi.spyOn(sink, "write");
    const log = logger({ sink, batchSize: 3 });
    log.record(prediction());
    log.record(prediction());
    log.record(prediction());
    log.record(prediction());
    expect(write).not.toHaveBeenCalled();
    expect(log.stats().buffered).toBe(4);
    await tick();
    await tick();
    expect(write).toHaveBeenCalled();
    await log.flush();
    expect(sink.rows()).toHaveLength(4);
    expect(sink.batches.map((b) => b.length)).toEqual([3, 1]);
    expect(log.stats()).toMatchObject({ recorded: 4, written: 4, dropped: 0, buffered: 0 });
  });

  it("flushes on its interval below the batch size", async () => {
    const sink = memorySink();
    const log = logger({ sink, batchSize: 100, flushIntervalMs: 10 });
    log.record(prediction());
    await vi.waitFor(() => expect(sink.rows()).toHaveLength(1), { timeout: 2_000, interval: 5 });
  });

  it("writes nothing at sample rate 0", async () => {
    const sink = memorySink();
    const log = logger({ sink, sampleRate: 0 });
    for (let i = 0; i < 100; i++) log.record(prediction({ requestId: `r-${i}` }));
    for (let i = 0; i < 100; i++) log.record(prediction());
    await log.close();
    expect(sink.rows()).toHaveLength(0);
    expect(log.stats()).toMatchObject({ recorded: 200, sampledOut: 200, written: 0 });
  });

  it("keeps about half at 0.5, and the same request id always gets the same decision", async () => {
    const sink = memorySink();
    const log = logger({ sink, sampleRate: 0.5 });
    const n = 4_000;
    for (let i = 0; i < n; i++) log.record(prediction({ requestId: `req-${i}` }));
    await log.flush();
    const kept = sink.rows().length;
    expect(kept).toBeGreaterThan(n * 0.45);
    expect(kept).toBeLessThan(n * 0.55);
    const keptIds = new Set(sink.rows().map((r) => r.request_id));
    // A retry and a shadow copy of each request: the same ids are kept again, and only those.
    for (let i = 0; i < n; i++) log.record(prediction({ requestId: `req-${i}`, route: "shadow" }));
    await log.flush();
    const shadowIds = new Set(
      sink
        .rows()
        .filter((r) => r.route === "shadow")
        .map((r) => r.request_id),
    );
    expect(shadowIds).toEqual(keptIds);
    expect(log.stats()).toMatchObject({ recorded: 2 * n, written: 2 * kept, sampledOut: 2 * (n - kept) });
  });

  it("samples requests without an id at random, and honours a decision passed in", async () => {
    const sink = memorySink();
    const draws = [0.1, 0.9];
    const log = logger({ sink, sampleRate: 0.5, random: () => draws.shift() ?? 0.9 });
    log.record(prediction());
    log.record(prediction());
    log.record(prediction({ requestId: "x" }), { sampled: false });
    log.record(prediction({ requestId: "x" }), { sampled: true });
    await log.flush();
    expect(sink.rows()).toHaveLength(2);
    expect(log.stats().sampledOut).toBe(2);
  });

  it("spreads sampleFraction over [0, 1)", () => {
    const fractions = Array.from({ length: 10_000 }, (_, i) => sampleFraction(`id-${i}`));
    expect(Math.min(...fractions)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...fractions)).toBeLessThan(1);
    const low = fractions.filter((f) => f < 0.1).length;
    expect(low).toBeGreaterThan(850);
    expect(low).toBeLessThan(1150);
    expect(sampleFraction("abc")).toBe(sampleFraction("abc"));
  });

  it("samples independently of the deployment traffic split", () => {
    // Were the two decisions one hash, a 10% sample of a 90/10 split would log only one route.
    const ids = Array.from({ length: 20_000 }, (_, i) => `req-${i}`);
    const sampled = ids.filter((id) => sampleFraction(id) < 0.1);
    const canary = sampled.filter((id) => trafficPoint("churn", id) < 10).length;
    expect(canary / sampled.length).toBeGreaterThan(0.08);
    expect(canary / sampled.length).toBeLessThan(0.12);
  });

  it("bounds the buffer while the sink is blocked: drops and counts, then writes what it held", async () => {
    const sink = memorySink();
    sink.block();
    const log = logger({ sink, batchSize: 10, maxBuffered: 100 });
    for (let i = 0; i < 10_000; i++) {
      log.record(prediction());
      if (i % 1000 === 0) await tick();
    }
    const stats = log.stats();
    expect(stats.buffered).toBe(100);
    expect(stats.dropped).toBe(10_000 - 100);
    expect(stats.recorded).toBe(stats.sampledOut + stats.written + stats.dropped + stats.buffered);
    sink.release();
    await log.flush();
    expect(sink.rows()).toHaveLength(100);
    expect(log.stats()).toMatchObject({ written: 100, dropped: 9_900, buffered: 0, bufferedBytes: 0 });
  });

  it("bounds the heap the buffered tensors hold", async () => {
    const sink = memorySink();
    sink.block();
    const log = logger({ sink, maxBufferedBytes: 64 * 1024 });
    // 5,000 FP64 elements: 40 KB held, JSON under the 64 KiB cap, so the tensors stay buffered.
    const inputs: Tensor[] = [{ name: "x", datatype: "FP64", shape: [5_000], data: new Float64Array(5_000) }];
    for (let i = 0; i < 10; i++) log.record(prediction({ inputs }));
    expect(log.stats().buffered).toBe(1);
    expect(log.stats().dropped).toBe(9);
    expect(log.stats().bufferedBytes).toBeLessThanOrEqual(64 * 1024);
    sink.release();
    await log.close();
  });

  it("retries a failing sink with backoff, then drops the batch; errors go to onError, never to record()", async () => {
    const errors: PredictionLogErrorContext[] = [];
    const messages = new Set<string>();
    let calls = 0;
    const sink: PredictionSink = {
      async write() {
        calls++;
        throw new Error("database is down");
      },
    };
    const log = logger({
      sink,
      batchSize: 5,
      maxBuffered: 20,
      maxAttempts: 3,
      retry: { baseMs: 1, maxMs: 4 },
      onError: (error, context) => {
        messages.add((error as Error).message);
        errors.push(context);
        throw new Error("a broken error callback");
      },
    });
    for (let i = 0; i < 100; i++) expect(() => log.record(prediction())).not.toThrow();
    expect(log.stats()).toMatchObject({ buffered: 20, dropped: 80 });
    await log.flush();
    expect(calls).toBe(4 * 3);
    expect([...messages]).toEqual(["database is down"]);
    expect(errors.slice(0, 3)).toEqual([
      { stage: "write", rows: 5, attempt: 1, willRetry: true },
      { stage: "write", rows: 5, attempt: 2, willRetry: true },
      { stage: "write", rows: 5, attempt: 3, willRetry: false },
    ]);
    expect(log.stats()).toMatchObject({ written: 0, dropped: 100, failedFlushes: 12, buffered: 0 });
  });

  it("recovers when a flaky sink succeeds on a retry", async () => {
    const sink = memorySink();
    let failures = 2;
    const flaky: PredictionSink = {
      write: (rows) => (failures-- > 0 ? Promise.reject(new Error("flaky")) : sink.write(rows)),
    };
    const log = logger({ sink: flaky, retry: { baseMs: 1, maxMs: 2 } });
    log.record(prediction());
    await log.flush();
    expect(sink.rows()).toHaveLength(1);
    expect(log.stats()).toMatchObject({ written: 1, failedFlushes: 2, dropped: 0 });
  });

  it("runs one flush at a time", async () => {
    let active = 0;
    let most = 0;
    const sink: PredictionSink = {
      async write() {
        active++;
        most = Math.max(most, active);
        await new Promise((resolve) => setTimeout(resolve, 5));
        active--;
      },
    };
    const log = logger({ sink, batchSize: 2, flushIntervalMs: 1 });
    for (let i = 0; i < 20; i++) {
      log.record(prediction());
      void log.flush();
      await tick();
    }
    await log.flush();
    expect(most).toBe(1);
    expect(log.stats().written).toBe(20);
  });

  it("close() flushes what is buffered and drops later records", async () => {
    const sink = memorySink();
    const log = logger({ sink });
    log.record(prediction());
    log.record(prediction());
    await log.close();
    expect(sink.rows()).toHaveLength(2);
    log.record(prediction());
    await log.close();
    expect(log.stats()).toMatchObject({ recorded: 3, written: 2, dropped: 1, buffered: 0 });
  });

  it("close() gives up quickly when the sink is down", async () => {
    const sink: PredictionSink = { write: () => Promise.reject(new Error("down")) };
    const log = logger({ sink, batchSize: 10, maxAttempts: 2, retry: { baseMs: 1, maxMs: 1 } });
    for (let i = 0; i < 100; i++) log.record(prediction());
    await log.close();
    expect(log.stats()).toMatchObject({ dropped: 100, buffered: 0, failedFlushes: 2 });
  });

  it("truncates a payload over the cap to a marker, keeping the small side", async () => {
    const sink = memorySink();
    const log = logger({ sink, maxPayloadBytes: 4096 });
    const big = fp32(
      "x",
      Array.from({ length: 1_000 }, (_, i) => i + 0.125),
    );
    log.record(prediction({ inputs: [big] }));
    await log.flush();
    const [row] = sink.rows();
    const inputs = JSON.parse(row?.inputs ?? "") as TruncatedTensors;
    expect(inputs).toMatchObject({
      truncated: true,
      tensors: [{ name: "x", datatype: "FP32", shape: [1, 1000] }],
    });
    expect(inputs.bytes).toBeGreaterThan(4096);
    expect(inputs.atLeast).toBeUndefined();
    expect(JSON.parse(row?.outputs ?? "")).toEqual([
      { name: "y", datatype: "FP32", shape: [1, 1], data: [0.5] },
    ]);
    expect(log.stats().truncated).toBe(1);
  });

  it("never holds or encodes a tensor far over the cap", async () => {
    const sink = memorySink();
    const log = logger({ sink });
    const huge: Tensor = {
      name: "img",
      datatype: "UINT8",
      shape: [1, 1024, 1024],
      data: new Uint8Array(1 << 20),
    };
    log.record(prediction({ inputs: [huge], outputs: [huge] }));
    expect(log.stats().bufferedBytes).toBeLessThan(4096);
    await log.flush();
    const [row] = sink.rows();
    for (const side of [row?.inputs, row?.outputs]) {
      expect(JSON.parse(side ?? "")).toMatchObject({
        truncated: true,
        atLeast: true,
        bytes: expect.any(Number),
      });
    }
    expect(log.stats().truncated).toBe(1);
  });

  it("records an unencodable tensor as a marker with the reason", async () => {
    const sink = memorySink();
    const log = logger({ sink });
    // A buffer transferred to a worker is detached: its data no longer matches the shape.
    const data = new Float32Array(3);
    structuredClone(data.buffer, { transfer: [data.buffer] });
    log.record(prediction({ inputs: [{ name: "x", datatype: "FP32", shape: [3], data }] }));
    await log.flush();
    const inputs = JSON.parse(sink.rows()[0]?.inputs ?? "") as TruncatedTensors;
    expect(inputs.reason).toMatch(/needs 3/);
  });

  it("drops a record that cannot be serialised, through onError", async () => {
    const sink = memorySink();
    const onError = vi.fn();
    const log = logger({ sink, onError });
    log.record(prediction({ at: new Date(Number.NaN) }));
    log.record(prediction());
    await log.flush();
    expect(sink.rows()).toHaveLength(1);
    expect(onError).toHaveBeenCalledWith(expect.any(RangeError), { stage: "serialise", rows: 1 });
    expect(log.stats()).toMatchObject({ recorded: 2, written: 1, dropped: 1, buffered: 0 });
  });

  it("survives a malformed record without throwing", () => {
    const log = logger({ sink: memorySink(), onError: () => {} });
    const broken = { ...prediction(), inputs: undefined } as unknown as PredictionRecord;
    expect(() => log.record(broken)).not.toThrow();
    expect(log.stats()).toMatchObject({ recorded: 1, dropped: 1 });
  });

  it("rejects invalid options", () => {
    const sink = memorySink();
    expect(() => new PredictionLogger({ sink, sampleRate: 1.5 })).toThrow(RangeError);
    expect(() => new PredictionLogger({ sink, sampleRate: Number.NaN })).toThrow(RangeError);
    expect(() => new PredictionLogger({ sink, batchSize: 0 })).toThrow(RangeError);
  });
});

describe("statementChunks", () => {
  const row = (chars: number): PredictionLogRow => ({
    project: "p",
    model: "m",
    version: 1,
    version_id: "v",
    route: "direct",
    request_id: null,
    inputs: "x".repeat(chars),
    outputs: null,
    error: null,
    latency_ms: 1,
    created_at: AT.toISOString(),
  });

  it("splits into power-of-two INSERTs under the parameter limit", () => {
    const sizes = statementChunks(Array.from({ length: 5_000 }, () => row(10))).map((c) => c.length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(5_000);
    for (const size of sizes) {
      expect(Math.log2(size) % 1).toBe(0);
      expect(size * 11).toBeLessThanOrEqual(32_766);
    }
    expect(statementChunks(Array.from({ length: 499 }, () => row(10))).map((c) => c.length)).toEqual([
      256, 128, 64, 32, 16, 2, 1,
    ]);
  });

  it("splits large payloads further", () => {
    const sizes = statementChunks(Array.from({ length: 500 }, () => row(64 * 1024))).map((c) => c.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(256);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(500);
  });
});

describe.each(testDialects())("prediction log store on %s", (dialect) => {
  let store: Store;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    ({ store, dispose } = await freshStore(dialect));
  });
  afterAll(() => dispose());

  it("writes batches that listPredictions reads back, filtered and ordered", async () => {
    const sink = createStorePredictionSink(store.db);
    const write = vi.spyOn(sink, "write");
    const log = logger({ sink, batchSize: 50 });
    for (let i = 0; i < 120; i++) {
      log.record(
        prediction({
          model: i % 2 === 0 ? "even" : "odd",
          version: 1 + (i % 3),
          versionId: `v-${i % 3}`,
          route: i % 4 === 0 ? "champion" : "default",
          requestId: `req-${i}`,
          at: new Date(AT.getTime() + i * 1000),
          latencyMs: i / 4,
        }),
      );
    }
    log.record(
      prediction({
        model: "even",
        outputs: undefined,
        error: "model failed\u0000",
        at: new Date(AT.getTime() + 500_000),
      }),
    );
    await log.close();
    expect(write.mock.calls.map(([rows]) => rows.length)).toEqual([50, 50, 21]);
    expect(log.stats()).toMatchObject({ written: 121, dropped: 0 });

    const even = await listPredictions(store.db, { project: "default", model: "even", limit: 1_000 });
    expect(even).toHaveLength(61);
    expect(even[0]).toEqual({
      seq: expect.any(Number),
      project: "default",
      model: "even",
      version: 1,
      versionId: "v-0",
      route: "champion",
      requestId: "req-0",
      inputs: [{ name: "x", datatype: "FP32", shape: [1, 3], data: [1, 2, 3] }],
      outputs: [{ name: "y", datatype: "FP32", shape: [1, 1], data: [0.5] }],
      error: null,
      latencyMs: 0,
      at: AT,
    });
    expect(even.at(-1)).toMatchObject({ outputs: null, error: "model failed\uFFFD" });

    const since = await listPredictions(store.db, {
      project: "default",
      model: "odd",
      since: new Date(AT.getTime() + 100_000),
      limit: 5,
    });
    expect(since.map((p) => p.requestId)).toEqual(["req-101", "req-103", "req-105", "req-107", "req-109"]);
    const newest = await listPredictions(store.db, {
      project: "default",
      model: "odd",
      limit: 2,
      order: "desc",
    });
    expect(newest.map((p) => p.requestId)).toEqual(["req-119", "req-117"]);
    expect(await listPredictions(store.db, { project: "other", model: "odd", limit: 10 })).toEqual([]);
  });

  it("serialises every datatype: 64-bit integers, FP16, BOOL, BYTES, non-finite floats", async () => {
    const log = logger({ sink: createStorePredictionSink(store.db) });
    const inputs: Tensor[] = [
      {
        name: "i64",
        datatype: "INT64",
        shape: [3],
        data: BigInt64Array.from([-(2n ** 63n), 7n, 2n ** 63n - 1n]),
      },
      { name: "u64", datatype: "UINT64", shape: [2], data: BigUint64Array.from([2n ** 64n - 1n, 1n]) },
      { name: "h", datatype: "FP16", shape: [2], data: Float32Array.from([0.5, 65504]) },
      {
        name: "f",
        datatype: "FP64",
        shape: [3],
        data: Float64Array.from([Number.NaN, Number.POSITIVE_INFINITY, 0.1]),
      },
      { name: "b", datatype: "BOOL", shape: [2], data: Uint8Array.from([1, 0]) },
      { name: "s", datatype: "BYTES", shape: [2], data: ["héllo", "\u0000bin"] },
    ];
    log.record(prediction({ model: "types", inputs, outputs: [] }));
    await log.close();
    const [logged] = await listPredictions(store.db, { project: "default", model: "types", limit: 1 });
    expect(logged?.inputs).toEqual([
      {
        name: "i64",
        datatype: "INT64",
        shape: [3],
        data: ["-9223372036854775808", 7, "9223372036854775807"],
      },
      { name: "u64", datatype: "UINT64", shape: [2], data: ["18446744073709551615", 1] },
      { name: "h", datatype: "FP16", shape: [2], data: [0.5, 65504] },
      { name: "f", datatype: "FP64", shape: [3], data: ["NaN", "Infinity", 0.1] },
      { name: "b", datatype: "BOOL", shape: [2], data: [true, false] },
      { name: "s", datatype: "BYTES", shape: [2], data: ["héllo", "\u0000bin"] },
    ] satisfies LoggedTensors);
    expect(logged?.outputs).toEqual([]);
  });

  it("stores a truncated payload as its marker", async () => {
    const log = logger({ sink: createStorePredictionSink(store.db), maxPayloadBytes: 1024 });
    log.record(
      prediction({
        model: "big",
        inputs: [
          fp32(
            "x",
            Array.from({ length: 2_000 }, (_, i) => i),
          ),
        ],
      }),
    );
    await log.close();
    const [logged] = await listPredictions(store.db, { project: "default", model: "big", limit: 1 });
    expect(logged?.inputs).toMatchObject({ truncated: true, tensors: [{ name: "x", shape: [1, 2000] }] });
    expect(log.stats().truncated).toBe(1);
  });

  it("writes a batch larger than one statement in one transaction", async () => {
    const sink = createStorePredictionSink(store.db);
    const log = logger({ sink, batchSize: 5_000, maxBuffered: 5_000 });
    for (let i = 0; i < 5_000; i++) log.record(prediction({ model: "bulk", at: new Date(AT.getTime() + i) }));
    await log.close();
    const rows = await listPredictions(store.db, { project: "default", model: "bulk", limit: 10_000 });
    expect(rows).toHaveLength(5_000);
    expect(log.stats()).toMatchObject({ written: 5_000, failedFlushes: 0 });
  });

  it("deletes predictions older than the retention, and only those", async () => {
    const sink = createStorePredictionSink(store.db);
    const log = logger({ sink, batchSize: 6_000, maxBuffered: 6_000 });
    const day = 86_400_000;
    // 5,500 old rows (more than one delete chunk) and 10 recent ones.
    for (let i = 0; i < 5_500; i++)
      log.record(prediction({ model: "aged", at: new Date(AT.getTime() - 40 * day + i) }));
    for (let i = 0; i < 10; i++)
      log.record(prediction({ model: "aged", at: new Date(AT.getTime() - day + i) }));
    await log.close();
    const pruned: number[] = [];
    const stop = schedulePredictionPruning({
      db: store.db,
      retentionDays: 30,
      now: () => AT,
      onPruned: (deleted) => pruned.push(deleted),
      onError: (error) => {
        throw error;
      },
    });
    await stop();
    expect(pruned).toEqual([5_500]);
    const left = await listPredictions(store.db, { project: "default", model: "aged", limit: 10_000 });
    expect(left).toHaveLength(10);
    expect(await prunePredictions(store.db, new Date(AT.getTime() - 30 * day))).toBe(0);
    // Zero days keeps everything and schedules nothing.
    await schedulePredictionPruning({ db: store.db, retentionDays: 0 })();
    expect(
      await listPredictions(store.db, { project: "default", model: "aged", limit: 10_000 }),
    ).toHaveLength(10);
  });
});
