import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { isProtocolError, ProtocolError, type Tensor } from "../protocol/index.js";
import {
  buildTestModel,
  encodeModel,
  linearModel,
  randomInput,
  referenceOutput,
  type TensorDataType,
  type TestModelSpec,
  type ValueInfo,
} from "../test-support/onnx-models/index.js";
import { createOnnxRuntime, type LoadedModel, type OnnxRuntime } from "./index.js";
import {
  BatchCounters,
  type BatchSettings,
  type BatchTarget,
  OnnxBatcher,
  resolveBatching,
} from "./onnx-batcher.js";
import type { SessionMetadata } from "./onnx-messages.js";

const FEATURES = 4;

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "resolved";
  } catch (error) {
    return isProtocolError(error) ? error.code : "not a ProtocolError";
  }
}

function fp32(name: string, shape: number[], data: ArrayLike<number>): Tensor {
  return { name, datatype: "FP32", shape, data: Float32Array.from(data) };
}

function values(tensor: Tensor | undefined): unknown[] {
  if (tensor === undefined) throw new Error("output missing");
  return Array.from(tensor.data as ArrayLike<unknown>);
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs((actual[i] as number) - (expected[i] as number))).toBeLessThanOrEqual(tolerance);
  }
}

/** Lets pending promise callbacks (a run's answer, the idle flush behind it) run. */
async function settleMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

// ── the policy, against a fake worker pool ────────────────────────────────────────────────────────────

interface FakeRun {
  feeds: readonly Tensor[];
  fetches: readonly string[];
  options: { weight: number; transfer: boolean; signal?: AbortSignal };
  resolve: (outputs: Tensor[]) => void;
  reject: (error: unknown) => void;
}

/** Records runs and answers them when told; `capacity` stands for the worker's bounded queue. */
class FakeTarget implements BatchTarget {
  readonly label = "fake/model:1";
  readonly runs: FakeRun[] = [];
  admitted = 0;
  constructor(private readonly capacity = Number.POSITIVE_INFINITY) {}

  admit(): void {
    if (this.admitted >= this.capacity)
      throw new ProtocolError("OVERLOADED", "overloaded: fake queue is full");
    this.admitted++;
  }

  release(count: number): void {
    this.admitted -= count;
  }

  run(feeds: readonly Tensor[], fetches: readonly string[], options: FakeRun["options"]): Promise<Tensor[]> {
    return new Promise((resolve, reject) => this.runs.push({ feeds, fetches, options, resolve, reject }));
  }

  /** Answers run `i` as the fake model does: `y` = 2·x and `z` = x + 1, row for row, over what was fetched. */
  answer(i: number): void {
    const run = this.runs[i];
    if (run === undefined) throw new Error(`no run ${i}`);
    const x = run.feeds.find((t) => t.name === "x");
    if (x === undefined) throw new Error("no x");
    const data = x.data as Float32Array;
    run.resolve(
      run.fetches.map((name) =>
        fp32(name, x.shape, name === "y" ? data.map((v) => 2 * v) : data.map((v) => v + 1)),
      ),
    );
  }
}

const FAKE_METADATA: SessionMetadata = {
  inputs: [
    { name: "x", datatype: "FP32", shape: [-1, 2] },
    { name: "k", datatype: "INT64", shape: [-1] },
  ],
  outputs: [
    { name: "y", datatype: "FP32", shape: [-1, 2] },
    { name: "z", datatype: "FP32", shape: [-1, 2] },
    { name: "total", datatype: "FP32", shape: [1] },
  ],
};

function settings(overrides: Partial<BatchSettings> = {}): BatchSettings {
  return { maxBatchSize: 4, maxDelayMs: 10, maxRows: 1024, transfer: false, ...overrides };
}

function fakeBatcher(overrides: Partial<BatchSettings> = {}, capacity?: number) {
  const target = new FakeTarget(capacity);
  const counters = new BatchCounters();
  const batcher = OnnxBatcher.create(FAKE_METADATA, target, settings(overrides), counters);
  if (batcher === undefined) throw new Error("the fake model should be batchable");
  return { target, counters, batcher };
}

/** A request of `rows` rows whose x values start at `base`, so every request's rows are recognisable. */
function request(rows: number, base: number): Tensor[] {
  return [
    fp32(
      "x",
      [rows, 2],
      Array.from({ length: rows * 2 }, (_, i) => base + i),
    ),
    { name: "k", datatype: "INT64", shape: [rows], data: new BigInt64Array(rows) },
  ];
}

describe("OnnxBatcher policy", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("is off for maxBatchSize ≤ 1 and refuses nonsense settings", () => {
    expect(resolveBatching(undefined, false)).toBeUndefined();
    expect(resolveBatching({ maxBatchSize: 1, maxDelayMs: 5 }, false)).toBeUndefined();
    expect(resolveBatching({ maxBatchSize: 0, maxDelayMs: 5 }, false)).toBeUndefined();
    expect(resolveBatching({ maxBatchSize: 8, maxDelayMs: 2 }, true)).toEqual({
      maxBatchSize: 8,
      maxDelayMs: 2,
      maxRows: 1024,
      transfer: true,
    });
    expect(() => resolveBatching({ maxBatchSize: 8, maxDelayMs: -1 }, false)).toThrow(RangeError);
    expect(() => resolveBatching({ maxBatchSize: Number.NaN, maxDelayMs: 1 }, false)).toThrow(RangeError);
    expect(() => resolveBatching({ maxBatchSize: 8, maxDelayMs: 1, maxRows: 0 }, false)).toThrow(RangeError);
  });

  it("never batches a model with a fixed first dimension on an input", () => {
    const fixed: SessionMetadata = {
      inputs: [{ name: "x", datatype: "FP32", shape: [2, 2] }],
      outputs: [{ name: "y", datatype: "FP32", shape: [-1, 2] }],
    };
    const scalar: SessionMetadata = {
      inputs: [{ name: "x", datatype: "FP32", shape: [] }],
      outputs: [{ name: "y", datatype: "FP32", shape: [-1] }],
    };
    const noBatchOutput: SessionMetadata = {
      inputs: [{ name: "x", datatype: "FP32", shape: [-1, 2] }],
      outputs: [{ name: "y", datatype: "FP32", shape: [1] }],
    };
    for (const metadata of [fixed, scalar, noBatchOutput]) {
      expect(OnnxBatcher.create(metadata, new FakeTarget(), settings(), new BatchCounters())).toBeUndefined();
    }
  });

  it("runs a request that finds the model idle at once, with its own tensors", async () => {
    const { target, counters, batcher } = fakeBatcher();
    const inputs = request(2, 0);
    const answer = batcher.infer(inputs, ["y"]);
    expect(target.runs).toHaveLength(1);
    expect(target.runs[0]?.options).toEqual({ weight: 1, transfer: false });
    expect(target.runs[0]?.feeds.map((t) => t.data)).toEqual(
      expect.arrayContaining([inputs[0]?.data, inputs[1]?.data]),
    );
    target.answer(0);
    expect(values((await answer)[0])).toEqual([0, 2, 4, 6]);
    expect(counters.snapshot()).toMatchObject({ batches: 1, requests: 1, waiting: 0, flushes: { idle: 1 } });
    expect(target.admitted).toBe(0);
  });

  it("collects arrivals while a run is in flight and sends them together when it answers", async () => {
    const { target, counters, batcher } = fakeBatcher({ maxBatchSize: 8, maxDelayMs: 1_000 });
    const first = batcher.infer(request(1, 100), ["y"]);
    const rest = [
      batcher.infer(request(2, 0), ["y"]),
      batcher.infer(request(1, 10), ["y"]),
      batcher.infer(request(3, 20), ["y"]),
    ];
    expect(target.runs).toHaveLength(1);
    expect(counters.snapshot().waiting).toBe(3);
    expect(target.admitted).toBe(3);
    target.answer(0);
    await first;
    await settleMicrotasks();
    // The model went idle: the three waiting requests left as one run of 6 rows.
    expect(target.runs).toHaveLength(2);
    const merged = target.runs[1];
    expect(merged?.options).toEqual({ weight: 3, transfer: true });
    expect(merged?.feeds.map((t) => [t.name, t.shape])).toEqual([
      ["k", [6]],
      ["x", [6, 2]],
    ]);
    target.answer(1);
    const [a, b, c] = await Promise.all(rest);
    expect(a?.[0]?.shape).toEqual([2, 2]);
    expect(values(a?.[0])).toEqual([0, 2, 4, 6]);
    expect(values(b?.[0])).toEqual([20, 22]);
    expect(values(c?.[0])).toEqual([40, 42, 44, 46, 48, 50]);
    expect(counters.snapshot()).toMatchObject({
      batches: 2,
      requests: 4,
      rows: 7,
      averageBatchSize: 2,
      waiting: 0,
      flushes: { idle: 2, full: 0, delay: 0 },
    });
  });

  it("sends a batch when it holds maxBatchSize requests, and never more than maxRows rows", async () => {
    const { target, batcher } = fakeBatcher({ maxBatchSize: 3, maxDelayMs: 1_000, maxRows: 5 });
    void batcher.infer(request(1, 0), ["y"]);
    void batcher.infer(request(1, 0), ["y"]);
    void batcher.infer(request(1, 0), ["y"]);
    expect(target.runs).toHaveLength(1);
    void batcher.infer(request(1, 0), ["y"]);
    expect(target.runs.map((r) => r.options.weight)).toEqual([1, 3]);
    // Rows: 4 + 2 would pass 5, so the open batch of 4 rows leaves first and the 2 rows wait on their own.
    void batcher.infer(request(4, 0), ["y"]);
    void batcher.infer(request(2, 0), ["y"]);
    expect(target.runs.map((r) => r.feeds.find((t) => t.name === "x")?.shape[0])).toEqual([1, 3, 4]);
    // A request as large as maxRows fills a batch by itself.
    void batcher.infer(request(5, 0), ["y"]);
    expect(target.runs.map((r) => r.feeds.find((t) => t.name === "x")?.shape[0])).toEqual([1, 3, 4, 2, 5]);
  });

  it("sends a waiting batch once its oldest request has waited maxDelayMs", async () => {
    vi.useFakeTimers();
    const { target, counters, batcher } = fakeBatcher({ maxBatchSize: 8, maxDelayMs: 20 });
    void batcher.infer(request(1, 0), ["y"]); // in flight, never answered here
    void batcher.infer(request(1, 0), ["y"]);
    vi.advanceTimersByTime(10);
    void batcher.infer(request(1, 0), ["y"]);
    vi.advanceTimersByTime(9);
    expect(target.runs).toHaveLength(1);
    vi.advanceTimersByTime(1);
    // The timer counts from the oldest request, not the newest.
    expect(target.runs.map((r) => r.options.weight)).toEqual([1, 2]);
    expect(counters.snapshot().flushes).toMatchObject({ idle: 1, delay: 1 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("merges only requests with the same outputs, input datatypes and trailing shapes", async () => {
    const { target, batcher } = fakeBatcher({ maxBatchSize: 8, maxDelayMs: 1_000 });
    const first = batcher.infer(request(1, 0), ["y"]);
    const wide: Tensor[] = [
      fp32("x", [1, 3], [1, 2, 3]),
      { name: "k", datatype: "INT64", shape: [1], data: new BigInt64Array(1) },
    ];
    const answers = [
      batcher.infer(request(1, 1), ["y"]),
      batcher.infer(request(1, 2), ["z"]),
      batcher.infer(request(1, 3), ["z", "y"]),
      batcher.infer(request(1, 4), ["y"]),
      batcher.infer(wide, ["y"]),
      // Input order does not matter: the key sorts inputs by name.
      batcher.infer([...request(1, 5)].reverse(), ["y"]),
    ];
    target.answer(0);
    await first;
    for (let i = 1; i < 5; i++) {
      await settleMicrotasks();
      target.answer(i);
    }
    const results = await Promise.all(answers);
    expect(target.runs.map((r) => [r.fetches, r.options.weight])).toEqual([
      [["y"], 1],
      [["y"], 3],
      [["z"], 1],
      [["z", "y"], 1],
      [["y"], 1],
    ]);
    expect(results.map((r) => r.map((t) => t.name))).toEqual([["y"], ["z"], ["z", "y"], ["y"], ["y"], ["y"]]);
    expect(values(results[0]?.[0])).toEqual([2, 4]);
    expect(values(results[1]?.[0])).toEqual([3, 4]);
    expect(values(results[2]?.[1])).toEqual([6, 8]);
    expect(values(results[3]?.[0])).toEqual([8, 10]);
    expect(results[4]?.[0]?.shape).toEqual([1, 3]);
    expect(values(results[5]?.[0])).toEqual([10, 12]);
  });

  it("runs a request alone when it cannot be merged", async () => {
    const { target, counters, batcher } = fakeBatcher({ maxBatchSize: 8, maxDelayMs: 1_000 });
    void batcher.infer(request(1, 0), ["y"]);
    const mismatched: Tensor[] = [
      fp32("x", [2, 2], [1, 2, 3, 4]),
      { name: "k", datatype: "INT64", shape: [3], data: new BigInt64Array(3) },
    ];
    void batcher.infer(request(1, 0), ["total"]); // an output with a fixed first dimension
    void batcher.infer(request(0, 0), ["y"]); // no rows
    void batcher.infer(mismatched, ["y"]);
    void batcher.infer(request(2000, 0), ["y"]); // more than maxRows
    expect(target.runs).toHaveLength(5);
    expect(counters.snapshot()).toMatchObject({ batches: 1, unbatched: 4, waiting: 0 });
    expect(target.admitted).toBe(0);
  });

  it("fails every request of a batch whose output does not keep the batch's rows", async () => {
    const { target, batcher } = fakeBatcher({ maxBatchSize: 8, maxDelayMs: 1_000 });
    const first = batcher.infer(request(1, 0), ["y"]);
    const waiting = [batcher.infer(request(1, 0), ["y"]), batcher.infer(request(2, 0), ["y"])];
    target.answer(0);
    await first;
    await settleMicrotasks();
    target.runs[1]?.resolve([fp32("y", [1, 2], [0, 0])]);
    for (const answer of waiting) {
      const error = await answer.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isProtocolError(error) && error.code).toBe("MODEL_FAILED");
      expect((error as Error).message).toMatch(
        /"fake\/model:1" cannot be batched: output "y" has shape \[1,2\]/,
      );
    }
  });

  it("delivers a run's failure to every request of the batch, then goes on", async () => {
    const { target, batcher } = fakeBatcher({ maxBatchSize: 8, maxDelayMs: 1_000 });
    const first = batcher.infer(request(1, 0), ["y"]);
    const waiting = [batcher.infer(request(1, 0), ["y"]), batcher.infer(request(1, 0), ["y"])];
    const failure = new ProtocolError("MODEL_FAILED", "onnxruntime failed: boom");
    target.runs[0]?.reject(failure);
    await expect(first).rejects.toBe(failure);
    await settleMicrotasks();
    target.runs[1]?.reject(failure);
    for (const answer of waiting) await expect(answer).rejects.toBe(failure);
    await settleMicrotasks();
    const after = batcher.infer(request(1, 1), ["y"]);
    await settleMicrotasks();
    target.answer(2);
    expect(values((await after)[0])).toEqual([2, 4]);
  });

  it("takes an aborted request out of its batch while it waits, and drops its result once sent", async () => {
    const { target, counters, batcher } = fakeBatcher({ maxBatchSize: 8, maxDelayMs: 1_000 });
    const sentController = new AbortController();
    const first = batcher.infer(request(1, 0), ["y"], sentController.signal);
    const waitingController = new AbortController();
    const kept = batcher.infer(request(1, 7), ["y"]);
    const leaving = batcher.infer(request(2, 0), ["y"], waitingController.signal);
    waitingController.abort(new Error("client went away"));
    await expect(leaving).rejects.toThrow("client went away");
    expect(counters.snapshot().waiting).toBe(1);
    expect(target.admitted).toBe(1);
    sentController.abort(new Error("gone too"));
    await expect(first).rejects.toThrow("gone too");
    target.answer(0);
    await settleMicrotasks();
    expect(target.runs[1]?.feeds.find((t) => t.name === "x")?.shape).toEqual([1, 2]);
    target.answer(1);
    expect(values((await kept)[0])).toEqual([14, 16]);
    // A batch whose only request left is gone, timer and all.
    await settleMicrotasks();
    const lone = new AbortController();
    void batcher.infer(request(1, 0), ["y"]);
    const alone = batcher.infer(request(1, 0), ["z"], lone.signal);
    lone.abort(new Error("bye"));
    await expect(alone).rejects.toThrow("bye");
    expect(counters.snapshot().waiting).toBe(0);
    expect(target.admitted).toBe(0);
  });

  it("refuses a request with the queue's 503 when the worker queue is full, before queueing it", async () => {
    const { target, counters, batcher } = fakeBatcher({ maxBatchSize: 8, maxDelayMs: 1_000 }, 2);
    void batcher.infer(request(1, 0), ["y"]);
    void batcher.infer(request(1, 0), ["y"]);
    void batcher.infer(request(1, 0), ["y"]);
    const refused = batcher.infer(request(1, 0), ["y"]);
    const error = await refused.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isProtocolError(error) && error.code).toBe("OVERLOADED");
    expect(counters.snapshot().waiting).toBe(2);
    expect(target.runs).toHaveLength(1);
  });

  it("rejects waiting requests on close", async () => {
    const { target, batcher } = fakeBatcher({ maxBatchSize: 8, maxDelayMs: 1_000 });
    void batcher.infer(request(1, 0), ["y"]);
    const waiting = batcher.infer(request(1, 0), ["y"]);
    batcher.close(new ProtocolError("SERVICE_UNAVAILABLE", "the ONNX runtime is closed"));
    expect(await codeOf(waiting)).toBe("SERVICE_UNAVAILABLE");
    expect(target.admitted).toBe(0);
  });
});

// ── with onnxruntime ──────────────────────────────────────────────────────────────────────────────────

function onnxInput(data: Float32Array, batch: number, features = FEATURES): Tensor {
  return { name: "input", datatype: "FP32", shape: [batch, features], data };
}

/**
 * x ["batch", "n"] → a = Identity(x), b = Neg(x) (both ["batch", "n"]), total = ReduceSum(x) over every axis
 * ([1, 1], a fixed first dimension: merged rows would sum other requests' rows).
 */
function twoHeadedModel(): Uint8Array {
  const batchOf = (name: string): ValueInfo => ({ name, elemType: "float", shape: ["batch", "n"] });
  return encodeModel({
    graph: {
      name: "two-headed",
      nodes: [
        { opType: "Identity", inputs: ["x"], outputs: ["a"] },
        { opType: "Neg", inputs: ["x"], outputs: ["b"] },
        { opType: "ReduceSum", inputs: ["x"], outputs: ["total"] },
      ],
      inputs: [batchOf("x")],
      outputs: [batchOf("a"), batchOf("b"), { name: "total", elemType: "float", shape: [1, 1] }],
    },
  });
}

/** y = Identity(x) over ["batch", 2] (or a fixed first dimension). */
function identityModel(elemType: TensorDataType, first: string | number = "batch"): Uint8Array {
  return encodeModel({
    graph: {
      name: `identity-${elemType}`,
      nodes: [{ opType: "Identity", inputs: ["x"], outputs: ["y"] }],
      inputs: [{ name: "x", elemType, shape: [first, 2] }],
      outputs: [{ name: "y", elemType, shape: [first, 2] }],
    },
  });
}

/**
 * y = Compress(x, keep, axis 0): the rows of x whose `keep` is true. Every dimension-0 size is variable, so the
 * model looks batchable, but y's rows are not the batch's: the batcher must notice and fail the whole batch.
 * (A Transpose would not do: onnxruntime infers its output shape as [2, -1] and the model is never batched.)
 */
function filteringModel(): Uint8Array {
  return encodeModel({
    graph: {
      name: "filtering",
      nodes: [
        {
          opType: "Compress",
          inputs: ["x", "keep"],
          outputs: ["y"],
          attributes: [{ name: "axis", type: "int", value: 0 }],
        },
      ],
      inputs: [
        { name: "x", elemType: "float", shape: ["batch", 2] },
        { name: "keep", elemType: "bool", shape: ["batch"] },
      ],
      outputs: [{ name: "y", elemType: "float", shape: ["kept", 2] }],
    },
  });
}

function filterInputs(x: number[], keep: number[]): Tensor[] {
  return [
    fp32("x", [keep.length, 2], x),
    { name: "keep", datatype: "BOOL", shape: [keep.length], data: Uint8Array.from(keep) },
  ];
}

describe("onnx runtime with dynamic batching", () => {
  let batched: OnnxRuntime;
  let plain: OnnxRuntime;

  beforeAll(() => {
    batched = createOnnxRuntime({
      workers: 2,
      maxQueue: 128,
      batching: { maxBatchSize: 16, maxDelayMs: 5 },
    });
    plain = createOnnxRuntime({ workers: 1 });
  });

  afterAll(async () => {
    await Promise.all([batched.close(), plain.close()]);
  });

  const specs: TestModelSpec[] = [
    { kind: "linear", inputs: 6, outputs: 3, seed: 31 },
    { kind: "mlp", inputs: 6, hidden: 32, outputs: 2, seed: 32 },
  ];

  for (const spec of specs) {
    it(`answers 64 concurrent ${spec.kind} requests of 1‥3 rows as the unbatched model does, in fewer runs`, async () => {
      const artifact = buildTestModel(spec);
      const model = await batched.load(artifact, { key: `batch/${spec.kind}` });
      const reference = await plain.load(artifact, { key: `plain/${spec.kind}` });
      const inputs = Array.from({ length: 64 }, (_, i) => {
        const rows = 1 + (i % 3);
        return { rows, data: randomInput(6, rows, 500 + i) };
      });
      const before = batched.batchStats();
      const answers = await Promise.all(
        inputs.map(({ rows, data }) => model.infer([onnxInput(data.slice(), rows, 6)])),
      );
      const after = batched.batchStats();
      for (const [i, { rows, data }] of inputs.entries()) {
        const [output] = answers[i] ?? [];
        const [unbatched] = await reference.infer([onnxInput(data.slice(), rows, 6)]);
        expect(output?.shape).toEqual(unbatched?.shape);
        expectClose(output?.data as Float32Array, unbatched?.data as Float32Array);
        expectClose(output?.data as Float32Array, referenceOutput(spec, data));
      }
      const runs = after.batches - before.batches;
      expect(after.requests - before.requests).toBe(64);
      expect(runs).toBeLessThan(64);
      expect(runs).toBeGreaterThanOrEqual(4); // 64 requests in batches of at most 16
      expect(after.waiting).toBe(0);
      expect(batched.stats().every((s) => s.waiting === 0 && s.inFlight === 0)).toBe(true);
      await Promise.all([model.unload(), reference.unload()]);
    });
  }

  it("never merges requests for different outputs or trailing shapes, and runs a fixed-dim output alone", async () => {
    const model = await batched.load(twoHeadedModel(), { key: "batch/two-headed" });
    expect(model.metadata().outputs.map((o) => o.shape)).toEqual([
      [-1, -1],
      [-1, -1],
      [1, 1],
    ]);
    const before = batched.batchStats();
    const cases = Array.from({ length: 40 }, (_, i) => {
      const rows = 1 + (i % 3);
      const width = 2 + (i % 2);
      const outputs = [["a"], ["b"], ["b", "a"], undefined, ["total"]][i % 5];
      const data = Array.from({ length: rows * width }, (_, j) => i * 100 + j);
      return { rows, width, outputs, data };
    });
    const answers = await Promise.all(
      cases.map(({ rows, width, outputs, data }) =>
        model.infer([fp32("x", [rows, width], data)], outputs === undefined ? {} : { outputs }),
      ),
    );
    for (const [i, { rows, width, outputs, data }] of cases.entries()) {
      const names = outputs ?? ["a", "b", "total"];
      const answer = answers[i] ?? [];
      expect(answer.map((t) => t.name)).toEqual(names);
      for (const tensor of answer) {
        if (tensor.name === "total") {
          expect(tensor.shape).toEqual([1, 1]);
          expect(values(tensor)).toEqual([data.reduce((s, v) => s + v, 0)]);
        } else {
          expect(tensor.shape).toEqual([rows, width]);
          expect(values(tensor)).toEqual(tensor.name === "a" ? data : data.map((v) => -v));
        }
      }
    }
    const after = batched.batchStats();
    // Those that fetch "total" (asked for, or by default) ran alone; the other 24 were batched.
    expect(after.unbatched - before.unbatched).toBe(16);
    expect(after.requests - before.requests).toBe(24);
    expect(after.batches - before.batches).toBeLessThan(24);
    await model.unload();
  });

  it("never batches a model with a fixed first dimension", async () => {
    const model = await batched.load(identityModel("float", 2), { key: "batch/fixed" });
    const before = batched.batchStats();
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => model.infer([fp32("x", [2, 2], [i, i + 1, i + 2, i + 3])])),
    );
    answers.forEach(([y], i) => {
      expect(values(y)).toEqual([i, i + 1, i + 2, i + 3]);
    });
    const after = batched.batchStats();
    expect(after.batches).toBe(before.batches);
    expect(after.unbatched).toBe(before.unbatched);
    await model.unload();
  });

  it("merges and splits INT64, BOOL and BYTES tensors", async () => {
    const cases: Array<{ elemType: TensorDataType; make: (i: number) => Tensor }> = [
      {
        elemType: "int64",
        make: (i) => ({
          name: "x",
          datatype: "INT64",
          shape: [1, 2],
          data: BigInt64Array.of(2n ** 62n + BigInt(i), BigInt(-i)),
        }),
      },
      {
        elemType: "bool",
        make: (i) => ({
          name: "x",
          datatype: "BOOL",
          shape: [1, 2],
          data: Uint8Array.of(i % 2, 1 - (i % 2)),
        }),
      },
      {
        elemType: "string",
        make: (i) => ({ name: "x", datatype: "BYTES", shape: [1, 2], data: [`r${i}`, `ü${i}`] }),
      },
    ];
    for (const { elemType, make } of cases) {
      const model = await batched.load(identityModel(elemType), { key: `batch/identity-${elemType}` });
      const before = batched.batchStats();
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => model.infer([make(i)])));
      answers.forEach(([y], i) => {
        expect(y?.shape).toEqual([1, 2]);
        expect(values(y)).toEqual(Array.from(make(i).data as ArrayLike<unknown>));
      });
      expect(batched.batchStats().batches - before.batches).toBeLessThan(10);
      await model.unload();
    }
  });

  it("answers a lone request at once instead of waiting out maxDelayMs", async () => {
    const slow = createOnnxRuntime({ workers: 1, batching: { maxBatchSize: 8, maxDelayMs: 1_000 } });
    try {
      const spec: TestModelSpec = { kind: "linear", inputs: FEATURES, outputs: 2, seed: 3 };
      const model = await slow.load(buildTestModel(spec), { key: "lone" });
      for (let i = 0; i < 3; i++) {
        const input = randomInput(FEATURES, 2, i);
        const started = performance.now();
        const [output] = await model.infer([onnxInput(input.slice(), 2)]);
        expect(performance.now() - started).toBeLessThan(500);
        expectClose(output?.data as Float32Array, referenceOutput(spec, input));
      }
      expect(slow.batchStats()).toMatchObject({ batches: 3, requests: 3, flushes: { idle: 3, delay: 0 } });
    } finally {
      await slow.close();
    }
  });

  it("fails a malformed request alone with 400 while its neighbours are batched", async () => {
    const spec: TestModelSpec = { kind: "linear", inputs: FEATURES, outputs: 2, seed: 4 };
    const model = await batched.load(buildTestModel(spec), { key: "batch/bad-neighbour" });
    const before = batched.batchStats();
    const good = Array.from({ length: 12 }, (_, i) => randomInput(FEATURES, 2, 40 + i));
    const calls = good.map((input) => model.infer([onnxInput(input.slice(), 2)]));
    const bad = model.infer([onnxInput(new Float32Array(10), 2, 5)]);
    calls.splice(6, 0, bad);
    const codes = await Promise.all(calls.map(codeOf));
    expect(codes.filter((s) => s === "INFER_REQUEST_INVALID")).toHaveLength(1);
    expect(codes[6]).toBe("INFER_REQUEST_INVALID");
    const answers = await Promise.all(calls.filter((c) => c !== bad));
    answers.forEach(([output], i) => {
      expectClose(output?.data as Float32Array, referenceOutput(spec, good[i] as Float32Array));
    });
    const after = batched.batchStats();
    expect(after.requests - before.requests).toBe(12);
    expect(after.batches - before.batches).toBeLessThan(12);
    await model.unload();
  });

  it("fails the whole batch with 500 when an output does not keep the batch's rows", async () => {
    const model = await batched.load(filteringModel(), { key: "batch/filtering" });
    expect(model.metadata().outputs[0]?.shape).toEqual([-1, 2]);
    // Alone, the model answers as it always did.
    const [alone] = await model.infer(filterInputs([1, 2, 3, 4, 5, 6], [1, 0, 1]));
    expect(alone?.shape).toEqual([2, 2]);
    expect(values(alone)).toEqual([1, 2, 5, 6]);
    const first = model.infer(filterInputs([1, 2], [1]));
    const merged = [model.infer(filterInputs([3, 4], [1])), model.infer(filterInputs([5, 6, 7, 8], [0, 1]))];
    await first;
    for (const answer of merged) {
      const error = await answer.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isProtocolError(error) && error.code).toBe("MODEL_FAILED");
      expect((error as Error).message).toContain('"batch/filtering" cannot be batched');
    }
    await model.unload();
  });

  it("drops an aborted request from its batch while it waits", async () => {
    const spec: TestModelSpec = { kind: "linear", inputs: FEATURES, outputs: 2, seed: 5 };
    const model = await batched.load(buildTestModel(spec), { key: "batch/abort" });
    const inputs = Array.from({ length: 4 }, (_, i) => randomInput(FEATURES, 1, 60 + i));
    const controller = new AbortController();
    const before = batched.batchStats();
    const calls = inputs.map((input, i) =>
      model.infer([onnxInput(input.slice(), 1)], i === 2 ? { signal: controller.signal } : {}),
    );
    controller.abort(new Error("client went away"));
    await expect(calls[2]).rejects.toThrow("client went away");
    for (const i of [0, 1, 3]) {
      const [output] = await (calls[i] as Promise<Tensor[]>);
      expectClose(output?.data as Float32Array, referenceOutput(spec, inputs[i] as Float32Array));
    }
    const after = batched.batchStats();
    // The first ran alone, the other two together; the aborted one never reached a run.
    expect(after.requests - before.requests).toBe(3);
    expect(after.batches - before.batches).toBe(2);
    await model.unload();
  });

  it("counts waiting requests against the worker's queue: 503 overloaded past maxQueue", async () => {
    const small = createOnnxRuntime({
      workers: 1,
      maxQueue: 4,
      batching: { maxBatchSize: 8, maxDelayMs: 50 },
    });
    try {
      const spec: TestModelSpec = { kind: "linear", inputs: FEATURES, outputs: 2, seed: 6 };
      const model = await small.load(buildTestModel(spec), { key: "full" });
      const input = randomInput(FEATURES, 1, 1);
      const calls = Array.from({ length: 10 }, () => model.infer([onnxInput(input.slice(), 1)]));
      expect(small.stats()[0]).toMatchObject({ inFlight: 1, waiting: 3 });
      const codes = await Promise.all(calls.map(codeOf));
      expect(codes.filter((s) => s === "resolved")).toHaveLength(4);
      expect(codes.filter((s) => s === "OVERLOADED")).toHaveLength(6);
      expect(small.queueRefusals()).toBe(6);
      const refused = await calls[9]?.catch((e: unknown) => e);
      expect((refused as Error).message).toMatch(/^overloaded/);
      expect(small.stats()[0]).toMatchObject({ inFlight: 0, waiting: 0 });
      await expect(model.infer([onnxInput(input.slice(), 1)])).resolves.toHaveLength(1);
    } finally {
      await small.close();
    }
  });

  it("runs the requests still waiting when the model is unloaded, then answers 503", async () => {
    const spec: TestModelSpec = { kind: "mlp", inputs: FEATURES, hidden: 8, outputs: 2, seed: 7 };
    const model: LoadedModel = await batched.load(buildTestModel(spec), { key: "batch/unload" });
    const inputs = Array.from({ length: 5 }, (_, i) => randomInput(FEATURES, 2, 70 + i));
    const before = batched.batchStats();
    const calls = inputs.map((input) => model.infer([onnxInput(input.slice(), 2)]));
    expect(batched.batchStats().waiting).toBe(4);
    const unloaded = model.unload();
    const answers = await Promise.all(calls);
    await unloaded;
    answers.forEach(([output], i) => {
      expectClose(output?.data as Float32Array, referenceOutput(spec, inputs[i] as Float32Array));
    });
    expect(batched.batchStats().flushes.unload - before.flushes.unload).toBe(1);
    expect(await codeOf(model.infer([onnxInput(randomInput(FEATURES, 1, 1), 1)]))).toBe("MODEL_NOT_READY");
  });

  it("rejects requests still waiting when the runtime closes", async () => {
    const closing = createOnnxRuntime({ workers: 1, batching: { maxBatchSize: 8, maxDelayMs: 1_000 } });
    const model = await closing.load(linearModel({ inputs: FEATURES, outputs: 2, seed: 8 }), {
      key: "close",
    });
    const input = randomInput(FEATURES, 1, 1);
    const calls = Array.from({ length: 3 }, () => codeOf(model.infer([onnxInput(input.slice(), 1)])));
    await closing.close();
    const codes = await Promise.all(calls);
    expect(codes.slice(1)).toEqual(["SERVICE_UNAVAILABLE", "SERVICE_UNAVAILABLE"]);
  });

  it("keeps batching off at maxBatchSize 1", async () => {
    const off = createOnnxRuntime({ workers: 1, batching: { maxBatchSize: 1, maxDelayMs: 5 } });
    try {
      const model = await off.load(linearModel({ inputs: FEATURES, outputs: 2, seed: 9 }), { key: "off" });
      const input = randomInput(FEATURES, 1, 1);
      await Promise.all(Array.from({ length: 8 }, () => model.infer([onnxInput(input.slice(), 1)])));
      expect(off.batchStats()).toEqual({
        batches: 0,
        requests: 0,
        rows: 0,
        averageBatchSize: 0,
        waiting: 0,
        flushes: { full: 0, delay: 0, idle: 0, unload: 0 },
        unbatched: 0,
      });
    } finally {
      await off.close();
    }
  });
});
