import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fitModel } from "../forecasting/index.js";
import { testApp } from "../http/test-support/test-app.js";
import { DEFAULT_PROJECT } from "../registry/index.js";
import { FORECAST_FORMAT } from "./index.js";
import { DATATYPES } from "./protocol/index.js";
import {
  buildTestModel,
  randomInput,
  referenceOutput,
  type TestModelSpec,
} from "./test-support/onnx-models/index.js";

/**
 * The Open Inference Protocol v2 REST conformance suite, written from the specification (kserve
 * open-inference-protocol, Triton docs/protocol) against the whole app: every endpoint, the repository
 * extension, datatypes, shape and count errors, unknown and not-ready models, oversize and malformed bodies,
 * flat and nested data, alias addressing and the default version.
 */

type Ctx = Awaited<ReturnType<typeof testApp>>;
let ctx: Ctx;

const BODY_LIMIT = 256 * 1024;
const LINEAR: Record<number, TestModelSpec> = {
  1: { kind: "linear", inputs: 4, outputs: 2, seed: 1 },
  2: { kind: "linear", inputs: 4, outputs: 2, seed: 2 },
  3: { kind: "linear", inputs: 4, outputs: 2, seed: 3 },
};
const MLP: TestModelSpec = { kind: "mlp", inputs: 3, hidden: 8, outputs: 2, seed: 4 };
const TREE: TestModelSpec = { kind: "tree-ensemble", features: 5, trees: 3, depth: 2, seed: 5 };
const SERIES = [112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118, 115, 126, 141, 135, 125, 149];
const LEVELS = [0.1, 0.5, 0.9];

function forecaster() {
  const fitted = fitModel("ses", Float64Array.from(SERIES), { period: 1 });
  if (!fitted.ok) throw new Error(fitted.error.message);
  return fitted.value;
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, unknown>;
}

async function call(method: "GET" | "POST", url: string, payload?: unknown): Promise<Reply> {
  const res = await ctx.app.inject({
    method,
    url,
    ...(payload !== undefined && { payload: payload as Record<string, unknown> }),
  });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
}

/** Every failure must be exactly `{"error": "<text>"}`. */
function expectError(reply: Reply, status: number, pattern?: RegExp): void {
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  expect(Object.keys(reply.body)).toEqual(["error"]);
  expect(typeof reply.body.error).toBe("string");
  if (pattern) expect(reply.body.error).toMatch(pattern);
}

function linearInput(batch: number, seed: number) {
  return randomInput(4, batch, seed);
}

function inferBody(data: unknown, shape: number[], extra: Record<string, unknown> = {}) {
  return { inputs: [{ name: "input", datatype: "FP32", shape, data }], ...extra };
}

function expectClose(actual: unknown, expected: Float32Array): void {
  const values = actual as number[];
  expect(values).toHaveLength(expected.length);
  values.forEach((v, i) => {
    expect(v).toBeCloseTo(expected[i] as number, 5);
  });
}

function outputOf(reply: Reply, index = 0) {
  const outputs = reply.body.outputs as Array<{
    name: string;
    shape: number[];
    datatype: string;
    data: unknown[];
  }>;
  const output = outputs[index];
  if (output === undefined) throw new Error(`no output ${index} in ${JSON.stringify(reply.body)}`);
  return output;
}

beforeAll(async () => {
  ctx = await testApp({
    bodyLimitBytes: BODY_LIMIT,
    // Short backoff so a retried load is observable within the test.
    inference: { retry: { baseMs: 20, maxMs: 40 }, serverVersion: "9.9.9" },
    // Registered as a registry-only process (or an older server) would: without the artifact check, so the
    // corrupt and exotic versions below reach the inference server.
    artifactValidation: false,
  });
  const model = forecaster();
  await ctx.registry.versions.bulkRegister(DEFAULT_PROJECT, {
    versions: [
      ...[1, 2, 3].map((v) => ({
        model: "linear",
        runtime: "onnx",
        artifact: { base64: base64(buildTestModel(LINEAR[v] as TestModelSpec)) },
        ...(v === 2 && { aliases: ["champion"] }),
        ...(v === 1 && { aliases: ["stable"] }),
      })),
      { model: "mlp", runtime: "onnx", artifact: { base64: base64(buildTestModel(MLP)) } },
      { model: "tree", runtime: "onnx", artifact: { base64: base64(buildTestModel(TREE)) } },
      {
        model: "forecast",
        runtime: "skala.forecast",
        artifact: {
          json: { format: FORECAST_FORMAT, state: model.toState(), horizon: 6, period: 1, quantiles: LEVELS },
        },
      },
      {
        model: "corrupt",
        runtime: "onnx",
        artifact: { base64: base64(new TextEncoder().encode("not onnx")) },
      },
      { model: "exotic", runtime: "tensorflow", artifact: { base64: base64(buildTestModel(MLP)) } },
    ],
  });
  await ctx.registry.models.create(DEFAULT_PROJECT, { name: "empty" });
});

afterAll(async () => {
  await ctx.close();
});

describe("health and server metadata", () => {
  it("answers live and ready with small JSON bodies", async () => {
    expect(await call("GET", "/v2/health/live")).toMatchObject({ status: 200, body: { live: true } });
    expect(await call("GET", "/v2/health/ready")).toMatchObject({ status: 200, body: { ready: true } });
  });

  it("answers not ready with 503 and an error when the database does not answer", async () => {
    const down = await testApp({
      inference: { ping: () => Promise.reject(new Error("connection refused")) },
    });
    try {
      const res = await down.app.inject({ method: "GET", url: "/v2/health/ready" });
      expect(res.statusCode).toBe(503);
      expect(res.headers["retry-after"]).toBe("1");
      expect(res.json()).toEqual({ error: "database unreachable: connection refused" });
      expect((await down.app.inject({ method: "GET", url: "/v2/health/live" })).statusCode).toBe(200);
    } finally {
      await down.close();
    }
  });

  it("describes the server with only the implemented extensions", async () => {
    const reply = await call("GET", "/v2");
    expect(reply).toMatchObject({
      status: 200,
      body: { name: "skala", version: "9.9.9", extensions: ["model_repository"] },
    });
  });
});

describe("model metadata", () => {
  it("describes the default version (the champion) with -1 for the batch dimension", async () => {
    const reply = await call("GET", "/v2/models/linear");
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      name: "linear",
      versions: ["2"],
      platform: "onnxruntime_onnx",
      inputs: [{ name: "input", datatype: "FP32", shape: [-1, 4] }],
      outputs: [{ name: "output", datatype: "FP32", shape: [-1, 2] }],
    });
  });

  it("addresses a version by number or by alias; without a champion the latest answers", async () => {
    expect((await call("GET", "/v2/models/linear/versions/3")).body.versions).toEqual(["3"]);
    expect((await call("GET", "/v2/models/linear/versions/stable")).body.versions).toEqual(["1"]);
    expect((await call("GET", "/v2/models/linear/versions/champion")).body.versions).toEqual(["2"]);
    const mlp = await call("GET", "/v2/models/mlp");
    expect(mlp.body).toMatchObject({ versions: ["1"], inputs: [{ name: "input", shape: [-1, 3] }] });
  });

  it("describes the forecast runtime's tensors", async () => {
    const reply = await call("GET", "/v2/models/forecast");
    expect(reply.body).toMatchObject({ name: "forecast", versions: ["1"], platform: "skala.forecast" });
    const inputs = reply.body.inputs as Array<{ name: string; datatype: string }>;
    expect(inputs.map((i) => i.name)).toContain("horizon");
  });

  it("answers unknown models, versions and aliases with 404", async () => {
    expectError(await call("GET", "/v2/models/nope"), 404, /nope/);
    expectError(await call("GET", "/v2/models/linear/versions/99"), 404, /99/);
    expectError(await call("GET", "/v2/models/linear/versions/0"), 404);
    expectError(await call("GET", "/v2/models/linear/versions/99999999999999999999"), 404);
    expectError(await call("GET", "/v2/models/linear/versions/nope"), 404, /alias "nope"/);
    expectError(await call("GET", "/v2/models/empty"), 404, /no versions/);
    expectError(await call("GET", "/v2/models/nope/ready"), 404);
    expectError(await call("POST", "/v2/models/nope/infer", inferBody([1, 2, 3, 4], [1, 4])), 404);
  });
});

describe("infer", () => {
  it("computes FP32 outputs from flat data and names the version that answered", async () => {
    const x = linearInput(3, 11);
    const reply = await call(
      "POST",
      "/v2/models/linear/infer",
      inferBody(Array.from(x), [3, 4], { id: "r-1" }),
    );
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(reply.body).toMatchObject({ model_name: "linear", model_version: "2", id: "r-1" });
    const output = outputOf(reply);
    expect(output).toMatchObject({ name: "output", datatype: "FP32", shape: [3, 2] });
    expectClose(output.data, referenceOutput(LINEAR[2] as TestModelSpec, x));
  });

  it("accepts nested data and gives the same answer", async () => {
    const x = linearInput(2, 12);
    const nested = [Array.from(x.subarray(0, 4)), Array.from(x.subarray(4, 8))];
    const flat = await call("POST", "/v2/models/linear/infer", inferBody(Array.from(x), [2, 4]));
    const deep = await call("POST", "/v2/models/linear/infer", inferBody(nested, [2, 4]));
    expect(deep.status).toBe(200);
    expect(outputOf(deep).data).toEqual(outputOf(flat).data);
    expect(deep.body.id).toBeUndefined();
  });

  it("routes by version number and alias, and resolves aliases on every request", async () => {
    const x = linearInput(1, 13);
    for (const [segment, version] of [
      ["1", "1"],
      ["3", "3"],
      ["champion", "2"],
      ["stable", "1"],
    ] as const) {
      const reply = await call(
        "POST",
        `/v2/models/linear/versions/${segment}/infer`,
        inferBody(Array.from(x), [1, 4]),
      );
      expect(reply.body.model_version).toBe(version);
      expectClose(outputOf(reply).data, referenceOutput(LINEAR[Number(version)] as TestModelSpec, x));
    }
    await ctx.registry.versions.setAlias(DEFAULT_PROJECT, "linear", "champion", { version: 3 });
    const moved = await call("POST", "/v2/models/linear/infer", inferBody(Array.from(x), [1, 4]));
    expect(moved.body.model_version).toBe("3");
    await ctx.registry.versions.setAlias(DEFAULT_PROJECT, "linear", "champion", { version: 2 });
  });

  it("serves the MLP and the tree ensemble", async () => {
    for (const [name, spec, features] of [
      ["mlp", MLP, 3],
      ["tree", TREE, 5],
    ] as const) {
      const x = randomInput(features, 4, 21);
      const reply = await call("POST", `/v2/models/${name}/infer`, inferBody(Array.from(x), [4, features]));
      expect(reply.status, JSON.stringify(reply.body)).toBe(200);
      expectClose(outputOf(reply).data, referenceOutput(spec, x));
    }
    await ctx.inference?.unload("tree");
  });

  it("returns only the outputs asked for, and refuses unknown ones with 400", async () => {
    const x = Array.from(linearInput(1, 14));
    const reply = await call(
      "POST",
      "/v2/models/linear/infer",
      inferBody(x, [1, 4], { outputs: [{ name: "output" }] }),
    );
    expect(reply.status).toBe(200);
    expectError(
      await call("POST", "/v2/models/linear/infer", inferBody(x, [1, 4], { outputs: [{ name: "nope" }] })),
      400,
      /unknown output/,
    );
  });

  it("serves the forecast runtime: horizon in, mean and quantiles out", async () => {
    const reply = await call("POST", "/v2/models/forecast/infer", {
      inputs: [{ name: "horizon", datatype: "INT32", shape: [1], data: [3] }],
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(reply.body.model_version).toBe("1");
    const direct = forecaster().forecast(3, { quantiles: LEVELS });
    const outputs = reply.body.outputs as Array<{ name: string; shape: number[]; data: number[] }>;
    const mean = outputs.find((o) => o.name === "mean");
    expect(mean?.shape).toEqual([3]);
    expect(mean?.data).toEqual(Array.from(direct.mean));
    expect(outputs.find((o) => o.name === "quantiles")?.shape).toEqual([3, LEVELS.length]);
    const withHistory = await call("POST", "/v2/models/forecast/infer", {
      inputs: [
        { name: "horizon", datatype: "INT64", shape: [1], data: ["2"] },
        { name: "history", datatype: "FP64", shape: [SERIES.length], data: SERIES.map((v) => v * 2) },
      ],
      outputs: [{ name: "mean" }],
    });
    expect(withHistory.status, JSON.stringify(withHistory.body)).toBe(200);
    expect(outputOf(withHistory).shape).toEqual([2]);
    expectError(
      await call("POST", "/v2/models/forecast/infer", {
        inputs: [{ name: "horizon", datatype: "INT32", shape: [1], data: [0] }],
      }),
      400,
    );
  });

  const sample: Record<string, unknown> = {
    BOOL: true,
    UINT8: 1,
    UINT16: 1,
    UINT32: 1,
    UINT64: 1,
    INT8: 1,
    INT16: 1,
    INT32: 1,
    INT64: 1,
    FP16: 0.5,
    FP32: 0.5,
    FP64: 0.5,
    BYTES: "a",
  };
  for (const datatype of DATATYPES) {
    it(`decodes ${datatype} and refuses it with 400 where the model declares another datatype`, async () => {
      const body = {
        inputs: [{ name: "input", datatype, shape: [1, 4], data: new Array(4).fill(sample[datatype]) }],
      };
      const reply = await call("POST", "/v2/models/linear/infer", body);
      if (datatype === "FP32") expect(reply.status).toBe(200);
      else expectError(reply, 400, new RegExp(`datatype is ${datatype}, the model expects FP32`));
    });
  }

  it("refuses bad datatypes, shapes and element counts with 400", async () => {
    const x = Array.from(linearInput(1, 15));
    const url = "/v2/models/linear/infer";
    const cases: Array<[unknown, RegExp?]> = [
      [{ inputs: [{ name: "input", datatype: "FP128", shape: [1, 4], data: x }] }, /datatype/],
      [inferBody(x, [1, 3]), undefined],
      [inferBody(x, [4]), /shape/],
      [inferBody(x.slice(0, 3), [1, 4]), undefined],
      [inferBody([...x, 1], [1, 4]), undefined],
      [inferBody(x, [1, -4]), undefined],
      [inferBody(x, [1, 4.5]), undefined],
      [inferBody([[1, 2, 3, 4], 5], [2, 4]), undefined],
      [inferBody([x.slice(0, 2), x.slice(2)], [1, 4]), undefined],
      [inferBody(["a", "b", "c", "d"], [1, 4]), undefined],
      [{ inputs: [{ name: "other", datatype: "FP32", shape: [1, 4], data: x }] }, /unknown input/],
      [{ inputs: [] }, /inputs/],
      [
        { inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], data: x }], model_name: "x" },
        /unknown field/,
      ],
      [[1, 2, 3], /JSON object/],
    ];
    for (const [body, pattern] of cases) {
      expectError(await call("POST", url, body), 400, pattern);
    }
  });

  it("refuses malformed JSON, empty bodies and binary tensor data with 400 in the protocol's shape", async () => {
    for (const [payload, headers] of [
      ['{"inputs": [', { "content-type": "application/json" }],
      ["{not json}", {}],
      ["", { "content-type": "application/json" }],
      ['{"__proto__": {"x": 1}}', { "content-type": "application/json" }],
      [
        '{"inputs":[]}\u0000\u0001',
        { "content-type": "application/octet-stream", "inference-header-content-length": "13" },
      ],
    ] as const) {
      const res = await ctx.app.inject({ method: "POST", url: "/v2/models/linear/infer", payload, headers });
      expectError({ status: res.statusCode, body: res.json(), headers: res.headers }, 400);
    }
  });

  it("reads a JSON body whatever its content type (Triton's client sends none)", async () => {
    const payload = JSON.stringify(inferBody(Array.from(linearInput(1, 16)), [1, 4]));
    for (const headers of [
      { "content-type": "text/plain" },
      { "content-type": "application/x-www-form-urlencoded" },
      {},
    ]) {
      const res = await ctx.app.inject({ method: "POST", url: "/v2/models/linear/infer", payload, headers });
      expect(res.statusCode, res.body).toBe(200);
    }
  });

  it("refuses an oversize body with 413 in the protocol's shape", async () => {
    const data = new Array(BODY_LIMIT / 4).fill(0.25);
    const res = await ctx.app.inject({
      method: "POST",
      url: "/v2/models/linear/infer",
      payload: JSON.stringify(inferBody(data, [data.length / 4, 4])),
      headers: { "content-type": "application/json" },
    });
    expectError({ status: res.statusCode, body: res.json(), headers: res.headers }, 413, /larger than/);
  });

  it("answers unknown /v2 routes and malformed URLs in the protocol's shape, and leaves /api alone", async () => {
    expectError(await call("GET", "/v2/nothing/here"), 404);
    expectError(await call("GET", "/v2/models/linear/versions/1/ready%00"), 400);
    expectError(await call("GET", "/v2/models/%E0%A4%A/ready"), 400);
    expect((await call("GET", "/v2/")).body).toMatchObject({ name: "skala" });
    const api = await call("GET", "/api/v1/projects/nope");
    expect(api.status).toBe(404);
    expect(api.body.error).toMatchObject({ code: "PROJECT_NOT_FOUND" });
  });
});

describe("models that can never load", () => {
  it("answers a corrupt artifact as a permanent failure: 500 with its reason, no Retry-After, no reload", async () => {
    const reply = await call("POST", "/v2/models/corrupt/infer", inferBody([1, 2, 3, 4], [1, 4]));
    expectError(reply, 500, /model "corrupt" version 1 cannot be served: it failed to load .*protobuf/);
    expect(reply.headers["retry-after"]).toBeUndefined();
    const ready = await call("GET", "/v2/models/corrupt/ready");
    expectError(ready, 503, /failed to load and is not retried/);
    expect(ready.headers["retry-after"]).toBeUndefined();
    expectError(await call("GET", "/v2/models/corrupt"), 500, /cannot be served/);
    // Long past the backoff window (20–40 ms here), requests fail fast: the broken artifact is not reloaded.
    const loads = ctx.inference?.cache.stats().loads;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expectError(await call("POST", "/v2/models/corrupt/infer", inferBody([1, 2, 3, 4], [1, 4])), 500);
    expect(ctx.inference?.cache.stats().loads).toBe(loads);
  });

  it("answers a version whose runtime the server lacks as permanent, naming the runtime", async () => {
    const reply = await call("POST", "/v2/models/exotic/infer", inferBody([1, 2, 3], [1, 3]));
    expectError(reply, 500, /runtime "tensorflow" is not available/);
    expect(reply.headers["retry-after"]).toBeUndefined();
  });
});

describe("model repository extension", () => {
  it("loads, reports ready, and unloads a model", async () => {
    expectError(await call("GET", "/v2/models/tree/ready"), 503, /not loaded/);
    expect(await call("POST", "/v2/repository/models/tree/load")).toMatchObject({ status: 200, body: {} });
    expect(await call("GET", "/v2/models/tree/ready")).toMatchObject({
      status: 200,
      body: { name: "tree", ready: true },
    });
    expect(await call("GET", "/v2/models/tree/versions/1/ready")).toMatchObject({ status: 200 });
    expect(await call("POST", "/v2/repository/models/tree/unload", {})).toMatchObject({
      status: 200,
      body: {},
    });
    expectError(await call("GET", "/v2/models/tree/ready"), 503, /not loaded/);
  });

  it("indexes every model of the project with its state", async () => {
    await call("POST", "/v2/repository/models/mlp/load", { parameters: {} });
    const index = await call("POST", "/v2/repository/index");
    expect(index.status).toBe(200);
    const rows = index.body as unknown as Array<{
      name: string;
      version?: string;
      state: string;
      reason?: string;
    }>;
    expect(rows).toContainEqual({ name: "mlp", version: "1", state: "READY" });
    expect(rows).toContainEqual({ name: "tree", state: "UNAVAILABLE", reason: "unloaded" });
    expect(rows).toContainEqual({ name: "empty", state: "UNAVAILABLE", reason: "unloaded" });
    expect(rows.find((r) => r.name === "corrupt")).toMatchObject({ version: "1", state: "UNAVAILABLE" });
    expect(rows.find((r) => r.name === "corrupt")?.reason).toBeTruthy();
    expect(rows.filter((r) => r.name === "linear").map((r) => r.version)).toEqual(["1", "2", "3"]);
    const ready = await call("POST", "/v2/repository/index", { ready: true });
    const readyRows = ready.body as unknown as Array<{ state: string }>;
    expect(readyRows.length).toBeGreaterThan(0);
    expect(readyRows.every((r) => r.state === "READY")).toBe(true);
    expectError(await call("POST", "/v2/repository/index", { ready: "yes" }), 400);
  });

  it("refuses unknown models, unsupported parameters, and reports load failures", async () => {
    expectError(await call("POST", "/v2/repository/models/nope/load"), 404);
    expectError(await call("POST", "/v2/repository/models/nope/unload"), 404);
    expectError(await call("POST", "/v2/repository/models/mlp/load", { parameters: { config: "{}" } }), 400);
    // An explicit load tries a permanent failure again, and reports it as permanent.
    const loads = ctx.inference?.cache.stats().loads ?? 0;
    expectError(await call("POST", "/v2/repository/models/corrupt/load"), 500, /failed to load/);
    expect(ctx.inference?.cache.stats().loads).toBe(loads + 1);
    expect(await call("POST", "/v2/repository/models/corrupt/unload")).toMatchObject({ status: 200 });
  });
});

describe("property: random infer bodies", () => {
  const name = fc.oneof(fc.constant("input"), fc.string({ maxLength: 8 }));
  const datatype = fc.oneof(fc.constantFrom(...DATATYPES), fc.string({ maxLength: 6 }));
  const dim = fc.oneof(
    fc.integer({ min: -2, max: 6 }),
    fc.constant(4),
    fc.double(),
    fc.string({ maxLength: 2 }),
  );
  const element = fc.oneof(
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.string({ maxLength: 4 }),
    fc.constantFrom("NaN", "Infinity", null),
  );
  const tensor = fc.record(
    {
      name,
      datatype,
      shape: fc.oneof(fc.array(dim, { maxLength: 3 }), fc.constant([1, 4]), fc.constant([2, 4])),
      data: fc.oneof(
        fc.array(element, { maxLength: 10 }),
        fc.array(fc.array(element, { maxLength: 4 }), { maxLength: 3 }),
        fc.anything(),
      ),
      parameters: fc.anything(),
    },
    { requiredKeys: ["name", "datatype", "shape", "data"] },
  );
  const body = fc.oneof(
    fc.record(
      {
        id: fc.oneof(fc.string({ maxLength: 5 }), fc.anything()),
        inputs: fc.array(tensor, { maxLength: 2 }),
        outputs: fc.oneof(fc.constant([{ name: "output" }]), fc.anything()),
        parameters: fc.anything(),
      },
      { requiredKeys: ["inputs"] },
    ),
    fc.anything(),
  );

  it("never answers 5xx or crashes, and every error is {error}", async () => {
    await fc.assert(
      fc.asyncProperty(
        body,
        fc.constantFrom("/v2/models/linear/infer", "/v2/models/forecast/infer"),
        async (b, url) => {
          const res = await ctx.app.inject({
            method: "POST",
            url,
            payload: JSON.stringify(b) ?? "",
            headers: { "content-type": "application/json" },
          });
          expect(res.statusCode, res.body).toBeLessThan(500);
          if (res.statusCode !== 200) {
            const parsed = res.json() as Record<string, unknown>;
            expect(Object.keys(parsed)).toEqual(["error"]);
          }
        },
      ),
      { numRuns: 300 },
    );
    expect((await call("GET", "/v2/health/live")).status).toBe(200);
  });
});
