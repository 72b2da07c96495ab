import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FittedModel, fitModel } from "../../forecasting/index.js";
import { isProtocolError, type Tensor } from "../protocol/index.js";
import {
  buildTestModel,
  encodeModel,
  linearModel,
  randomInput,
  referenceOutput,
  TENSOR_DATA_TYPE,
  type TensorDataType,
  type TestModelSpec,
} from "../test-support/onnx-models/index.js";
import {
  createForecastRuntime,
  createOnnxRuntime,
  createRuntimes,
  FORECAST_FORMAT,
  type ForecastArtifact,
  type LoadedModel,
  type OnnxRuntime,
  refitSpec,
} from "./index.js";
import { describeRuntimeContract } from "./runtime.contract.js";

const FEATURES = 4;

/**
 * y = Identity(x) over a [2] tensor. The project's ONNX writer has no float16 element type, so that model is
 * written as uint8 and its two elem_type varints (field 1 of TypeProto.Tensor, right before the shape field)
 * are patched from 2 to 10, ONNX's FLOAT16.
 */
function identityModel(elemType: TensorDataType | "float16"): Uint8Array {
  const written = elemType === "float16" ? "uint8" : elemType;
  const bytes = encodeModel({
    graph: {
      name: `identity-${elemType}`,
      nodes: [{ opType: "Identity", inputs: ["x"], outputs: ["y"] }],
      inputs: [{ name: "x", elemType: written, shape: [2] }],
      outputs: [{ name: "y", elemType: written, shape: [2] }],
    },
  });
  if (elemType !== "float16") return bytes;
  let patched = 0;
  for (let i = 0; i + 2 < bytes.length; i++) {
    if (bytes[i] === 0x08 && bytes[i + 1] === TENSOR_DATA_TYPE.uint8 && bytes[i + 2] === 0x12) {
      bytes[i + 1] = 10;
      patched++;
    }
  }
  if (patched !== 2) throw new Error(`expected 2 elem_type fields to patch, found ${patched}`);
  return bytes;
}

function onnxInput(data: Float32Array, batch: number, features = FEATURES): Tensor {
  return { name: "input", datatype: "FP32", shape: [batch, features], data };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "resolved";
  } catch (error) {
    return isProtocolError(error) ? error.code : "not a ProtocolError";
  }
}

/** A numeric output's values; fails the test when the output is missing. */
function numbers(tensor: Tensor | undefined): ArrayLike<number> {
  if (tensor === undefined) throw new Error("output missing");
  return tensor.data as ArrayLike<number>;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs((actual[i] as number) - (expected[i] as number))).toBeLessThanOrEqual(tolerance);
  }
}

// ── the shared contract ───────────────────────────────────────────────────────────────────────────────

// The same contract with and without dynamic batching: a batched runtime must be indistinguishable.
for (const [label, options] of [
  ["onnx", { workers: 2 }],
  ["onnx with dynamic batching", { workers: 1, batching: { maxBatchSize: 8, maxDelayMs: 2 } }],
] as const) {
  describeRuntimeContract(label, async () => {
    const runtime = createOnnxRuntime(options);
    return {
      runtime,
      key: "contract/linear:1",
      artifact: linearModel({ inputs: FEATURES, outputs: 2, seed: 1 }),
      brokenArtifact: new TextEncoder().encode("this is not an ONNX model"),
      validInputs: () => [onnxInput(randomInput(FEATURES, 3, 1), 3)],
      badInputs: () => ({
        unknownName: [
          { name: "nope", datatype: "FP32", shape: [1, FEATURES], data: new Float32Array(FEATURES) },
        ],
        wrongDatatype: [
          { name: "input", datatype: "FP64", shape: [1, FEATURES], data: new Float64Array(FEATURES) },
        ],
        wrongShape: [onnxInput(new Float32Array(5), 1, 5)],
        missing: [],
      }),
      cleanup: () => runtime.close(),
    };
  });
}

const SERIES = [112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118, 115, 126, 141, 135, 125, 149];
const LEVELS = [0.1, 0.5, 0.9];

function fitted(method: "ses" | "theta", y: readonly number[] = SERIES): FittedModel {
  const result = fitModel(method, Float64Array.from(y), { period: 1 });
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

function forecastArtifact(model: FittedModel, quantiles = LEVELS): Uint8Array {
  const artifact: ForecastArtifact = {
    format: FORECAST_FORMAT,
    state: model.toState(),
    horizon: 6,
    period: model.period,
    quantiles,
  };
  return new TextEncoder().encode(JSON.stringify(artifact));
}

function horizonInput(h: number | bigint): Tensor {
  return typeof h === "bigint"
    ? { name: "horizon", datatype: "INT64", shape: [1], data: BigInt64Array.of(h) }
    : { name: "horizon", datatype: "INT32", shape: [1], data: Int32Array.of(h) };
}

describeRuntimeContract("skala.forecast", async () => {
  const runtime = createForecastRuntime();
  return {
    runtime,
    key: "contract/forecast:1",
    artifact: forecastArtifact(fitted("ses")),
    brokenArtifact: new TextEncoder().encode(JSON.stringify({ format: FORECAST_FORMAT, state: {} })),
    validInputs: () => [horizonInput(4)],
    badInputs: () => ({
      unknownName: [
        horizonInput(4),
        { name: "nope", datatype: "FP64", shape: [1], data: Float64Array.of(1) },
      ],
      wrongDatatype: [{ name: "horizon", datatype: "FP32", shape: [1], data: Float32Array.of(4) }],
      wrongShape: [{ name: "horizon", datatype: "INT32", shape: [2], data: Int32Array.of(4, 4) }],
      missing: [],
    }),
    cleanup: () => runtime.close(),
  };
});

// ── onnx ──────────────────────────────────────────────────────────────────────────────────────────────

describe("onnx runtime", () => {
  let runtime: OnnxRuntime;

  beforeAll(() => {
    runtime = createOnnxRuntime({ workers: 2, maxQueue: 16 });
  });

  afterAll(async () => {
    await runtime.close();
  });

  const specs: TestModelSpec[] = [
    { kind: "linear", inputs: 6, outputs: 3, seed: 11 },
    { kind: "mlp", inputs: 6, hidden: 16, outputs: 2, seed: 12 },
    { kind: "tree-ensemble", features: 6, trees: 8, depth: 3, seed: 13 },
  ];

  for (const spec of specs) {
    it(`${spec.kind} matches the reference evaluator at batch 1 and 7`, async () => {
      const model = await runtime.load(buildTestModel(spec), { key: `ref/${spec.kind}` });
      for (const batch of [1, 7]) {
        const input = randomInput(6, batch, batch);
        const [output] = await model.infer([onnxInput(input.slice(), batch, 6)]);
        expect(output?.datatype).toBe("FP32");
        expect(output?.shape).toEqual([batch, spec.kind === "tree-ensemble" ? 1 : spec.outputs]);
        expectClose(numbers(output), referenceOutput(spec, input), 1e-5);
      }
      await model.unload();
    });
  }

  it("loads 200 distinct models across both workers and each answers with its own weights", async () => {
    const many = await Promise.all(
      Array.from({ length: 200 }, async (_, seed) => {
        const spec: TestModelSpec = { kind: "linear", inputs: FEATURES, outputs: 2, seed: 1000 + seed };
        return { spec, model: await runtime.load(buildTestModel(spec), { key: `many/${seed}` }) };
      }),
    );
    const slots = runtime.stats();
    expect(slots.every((s) => s.sessions > 20)).toBe(true);
    // Within the queue bound: 10 per wave, spread over both workers.
    for (let start = 0; start < many.length; start += 10) {
      await Promise.all(
        many.slice(start, start + 10).map(async ({ spec, model }) => {
          const input = randomInput(FEATURES, 2, 5);
          const [output] = await model.infer([onnxInput(input.slice(), 2)]);
          expectClose(numbers(output), referenceOutput(spec, input), 1e-5);
        }),
      );
    }
    await Promise.all(many.map(({ model }) => model.unload()));
    expect(runtime.stats().reduce((n, s) => n + s.sessions, 0)).toBe(0);
  });

  it("recycles a worker while requests are in flight and reloads its models lazily", async () => {
    const spec: TestModelSpec = { kind: "mlp", inputs: FEATURES, hidden: 8, outputs: 2, seed: 21 };
    const model = await runtime.load(buildTestModel(spec), { key: "recycle/mlp" });
    const slot = runtime.pool.slotOf("recycle/mlp");
    const input = randomInput(FEATURES, 3, 9);
    const expected = referenceOutput(spec, input);
    const before = runtime.stats()[slot];
    const inFlight = Array.from({ length: 8 }, () => model.infer([onnxInput(input.slice(), 3)]));
    const recycling = runtime.recycle(slot);
    // The old thread keeps answering while its replacement starts; the swap happens once it is ready.
    const [during] = await model.infer([onnxInput(input.slice(), 3)]);
    expectClose(numbers(during), expected, 1e-5);
    await recycling;
    for (const [output] of await Promise.all(inFlight)) {
      expectClose(numbers(output), expected, 1e-5);
    }
    const [again] = await model.infer([onnxInput(input.slice(), 3)]);
    expectClose(numbers(again), expected, 1e-5);
    const after = runtime.stats()[slot];
    expect(after?.generation).toBe((before?.generation ?? 0) + 1);
    expect(after?.loaded).toBe(1);
    await model.unload();
  });

  it("loads a slot's sessions into the replacement before the swap, and leaves out those unloaded meanwhile", async () => {
    const single = createOnnxRuntime({ workers: 1 });
    try {
      const keep = await single.load(linearModel({ inputs: FEATURES, outputs: 2, seed: 31 }), {
        key: "keep",
      });
      const drop = await single.load(linearModel({ inputs: FEATURES, outputs: 2, seed: 32 }), {
        key: "drop",
      });
      const recycling = single.recycle();
      await drop.unload();
      await recycling;
      expect(single.stats()[0]).toMatchObject({ generation: 2, sessions: 1, loaded: 1 });
      const input = randomInput(FEATURES, 2, 5);
      const [output] = await keep.infer([onnxInput(input.slice(), 2)]);
      expectClose(
        numbers(output),
        referenceOutput({ kind: "linear", inputs: FEATURES, outputs: 2, seed: 31 }, input),
        1e-5,
      );
    } finally {
      await single.close();
    }
  });

  it("refuses work past the queue limit with 503 and recovers", async () => {
    const small = createOnnxRuntime({ workers: 1, maxQueue: 2 });
    try {
      const model = await small.load(linearModel({ inputs: FEATURES, outputs: 2, seed: 3 }), { key: "q" });
      const input = randomInput(FEATURES, 1, 1);
      const codes = await Promise.all(
        Array.from({ length: 10 }, () => codeOf(model.infer([onnxInput(input.slice(), 1)]))),
      );
      expect(codes.filter((s) => s === "resolved")).toHaveLength(2);
      expect(codes.filter((s) => s === "OVERLOADED")).toHaveLength(8);
      // Each refusal is counted, for /metrics (skala_inference_onnx_queue_refused_total).
      expect(small.queueRefusals()).toBe(8);
      await expect(model.infer([onnxInput(input.slice(), 1)])).resolves.toHaveLength(1);
      try {
        await Promise.all(Array.from({ length: 3 }, () => model.infer([onnxInput(input.slice(), 1)])));
        expect.unreachable();
      } catch (error) {
        expect(isProtocolError(error) && error.message).toMatch(/^overloaded/);
      }
      expect(small.queueRefusals()).toBe(9);
    } finally {
      await small.close();
    }
  });

  it("converts BOOL, INT64, BYTES and FP16 tensors in and out of onnxruntime", async () => {
    const cases: Array<{ elemType: TensorDataType | "float16"; input: Tensor }> = [
      { elemType: "bool", input: { name: "x", datatype: "BOOL", shape: [2], data: Uint8Array.of(1, 0) } },
      {
        elemType: "int64",
        input: { name: "x", datatype: "INT64", shape: [2], data: BigInt64Array.of(2n ** 62n, -3n) },
      },
      { elemType: "string", input: { name: "x", datatype: "BYTES", shape: [2], data: ["a", "ü"] } },
      {
        elemType: "float16",
        input: { name: "x", datatype: "FP16", shape: [2], data: Float32Array.of(0.5, -65504) },
      },
    ];
    for (const { elemType, input } of cases) {
      const model = await runtime.load(identityModel(elemType), { key: `identity/${elemType}` });
      expect(model.metadata().inputs[0]?.datatype).toBe(input.datatype);
      const [output] = await model.infer([input]);
      expect(output?.datatype).toBe(input.datatype);
      expect(output?.shape).toEqual([2]);
      // BYTES data is a string[], the rest typed arrays: Array.from compares both element by element.
      expect(Array.from(numbers(output) as ArrayLike<unknown>)).toEqual(
        Array.from(input.data as ArrayLike<unknown>),
      );
      await model.unload();
    }
  });
});

// ── skala.forecast ────────────────────────────────────────────────────────────────────────────────────

describe("skala.forecast runtime", () => {
  const runtime = createForecastRuntime();

  async function loaded(model: FittedModel, quantiles = LEVELS): Promise<LoadedModel> {
    return runtime.load(forecastArtifact(model, quantiles), { key: `forecast/${model.method}` });
  }

  for (const method of ["ses", "theta"] as const) {
    it(`serves a fitted ${method} model exactly as the model forecasts`, async () => {
      const model = fitted(method);
      const served = await loaded(model);
      const outputs = await served.infer([horizonInput(8)]);
      const direct = model.forecast(8, { quantiles: LEVELS });
      const [mean, quantiles, levels] = outputs;
      expect(mean?.shape).toEqual([8]);
      expect(Array.from(numbers(mean))).toEqual(Array.from(direct.mean));
      expect(quantiles?.shape).toEqual([8, LEVELS.length]);
      LEVELS.forEach((level, j) => {
        const column = direct.quantiles.get(level) as Float64Array;
        for (let t = 0; t < 8; t++) {
          expect(numbers(quantiles)[t * LEVELS.length + j]).toBe(column[t]);
        }
      });
      expect(Array.from(numbers(levels))).toEqual(LEVELS);
    });
  }

  it("accepts an INT64 horizon", async () => {
    const served = await loaded(fitted("ses"));
    const [mean] = await served.infer([horizonInput(3n)], { outputs: ["mean"] });
    expect(mean?.shape).toEqual([3]);
  });

  it("refits the same method on a given history and forecasts from it", async () => {
    const model = fitted("theta");
    const served = await loaded(model);
    const history = SERIES.map((v, i) => v * 1.5 + i);
    const [mean] = await served.infer(
      [
        horizonInput(5),
        { name: "history", datatype: "FP64", shape: [history.length], data: Float64Array.from(history) },
      ],
      { outputs: ["mean"] },
    );
    expect(refitSpec(model.toState())).toEqual({ method: "theta" });
    const direct = fitted("theta", history).forecast(5);
    expect(Array.from(numbers(mean))).toEqual(Array.from(direct.mean));
    // FP32 history works too, and differs from the stored model's forecast.
    const [mean32] = await served.infer(
      [
        horizonInput(5),
        { name: "history", datatype: "FP32", shape: [history.length], data: Float32Array.from(history) },
      ],
      { outputs: ["mean"] },
    );
    expect(numbers(mean32)[0]).not.toBe(model.forecast(5).mean[0]);
  });

  it("keeps the selected ETS form and fixed intermittent parameters when refitting", () => {
    const ets = fitModel({ method: "ets", model: "AAdN" }, Float64Array.from(SERIES), { period: 1 });
    if (!ets.ok) throw new Error(ets.error.message);
    expect(refitSpec(ets.value.toState())).toEqual({ method: "ets", model: "AAdN" });
    const croston = fitModel({ method: "croston", alpha: 0.2 }, Float64Array.of(0, 3, 0, 0, 2, 0, 1), {
      period: 1,
    });
    if (!croston.ok) throw new Error(croston.error.message);
    expect(refitSpec(croston.value.toState())).toEqual({ method: "croston", alpha: 0.2 });
  });

  it("answers bad horizons and unusable histories with 400", async () => {
    const served = await loaded(fitted("ses"));
    expect(await codeOf(served.infer([horizonInput(0)]))).toBe("INFER_REQUEST_INVALID");
    expect(await codeOf(served.infer([horizonInput(5000)]))).toBe("INFER_REQUEST_INVALID");
    expect(await codeOf(served.infer([horizonInput(-1n)]))).toBe("INFER_REQUEST_INVALID");
    expect(await codeOf(served.infer([horizonInput(1000)]))).toBe("resolved");
    const nan: Tensor = {
      name: "history",
      datatype: "FP64",
      shape: [3],
      data: Float64Array.of(1, Number.NaN, 2),
    };
    expect(await codeOf(served.infer([horizonInput(3), nan]))).toBe("INFER_REQUEST_INVALID");
    const empty: Tensor = { name: "history", datatype: "FP64", shape: [0], data: new Float64Array(0) };
    expect(await codeOf(served.infer([horizonInput(3), empty]))).toBe("INFER_REQUEST_INVALID");
    const twice = [horizonInput(3), horizonInput(4)];
    expect(await codeOf(served.infer(twice))).toBe("INFER_REQUEST_INVALID");
  });

  it("serves an artifact without quantile levels", async () => {
    const served = await loaded(fitted("ses"), []);
    const [, quantiles, levels] = await served.infer([horizonInput(2)]);
    expect(quantiles?.shape).toEqual([2, 0]);
    expect(levels?.shape).toEqual([0]);
  });
});

describe("createRuntimes", () => {
  it("picks the runtime a version's runtime field names", async () => {
    const runtimes = createRuntimes({ onnx: { workers: 1 } });
    expect(runtimes.get("onnx").name).toBe("onnx");
    expect(runtimes.get("skala.forecast").name).toBe("skala.forecast");
    await runtimes.close();
  });
});
