import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SkalaError } from "../core/index.js";
import { testApp } from "../http/test-support/test-app.js";
import { DEFAULT_PROJECT } from "../registry/index.js";
import { forecastArtifact } from "./test-support/forecast-artifacts.js";
import { buildTestModel, randomInput } from "./test-support/onnx-models/index.js";

/**
 * Serving's side of registration and default resolution: versions this server's runtimes could never load are
 * refused when they are registered (nothing stored), and requests that name no version are answered only by
 * a version someone chose (an alias, a deployment) or by a `ready` one, never by a flagged or failed one.
 */

const API = `/api/v1/projects/${DEFAULT_PROJECT}`;
const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const digestOf = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const ONNX = buildTestModel({ kind: "linear", inputs: 4, outputs: 2, seed: 3 });
const CORRUPT = new TextEncoder().encode("definitely not an ONNX protobuf");
const { period: _period, ...withoutPeriod } = forecastArtifact(1);
const BODY = {
  inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], data: Array.from(randomInput(4, 1, 5)) }],
};

type Ctx = Awaited<ReturnType<typeof testApp>>;

interface ErrorEnvelope {
  error: { code: string; message: string; details?: { issues?: Array<{ path: string; message: string }> } };
}

describe("registration refuses versions that could never load", () => {
  let ctx: Ctx;
  beforeAll(async () => {
    ctx = await testApp();
  });
  afterAll(() => ctx.close());

  const post = (url: string, payload: object) => ctx.app.inject({ method: "POST", url, payload });

  async function expectUnloadable(url: string, payload: object, issues: Array<[string, RegExp]>) {
    const res = await post(url, payload);
    expect(res.statusCode, res.body).toBe(422);
    const body = res.json() as ErrorEnvelope;
    expect(body.error.code).toBe("VERSION_UNLOADABLE");
    const found = body.error.details?.issues ?? [];
    expect(found.map((issue) => issue.path)).toEqual(issues.map(([path]) => path));
    issues.forEach(([, pattern], i) => {
      expect(found[i]?.message).toMatch(pattern);
    });
  }

  it("refuses a corrupt ONNX model, an unknown runtime and a forecast without period, storing nothing", async () => {
    await ctx.registry.models.create(DEFAULT_PROJECT, { name: "single" });
    const url = `${API}/models/single/versions`;
    await expectUnloadable(url, { runtime: "onnx", artifact: { base64: base64(CORRUPT) } }, [
      ["/artifact", /onnxruntime could not load the model/],
    ]);
    await expectUnloadable(url, { runtime: "tensorflow", artifact: { base64: base64(ONNX) } }, [
      ["/runtime", /runtime "tensorflow" is not available on this server \(it has onnx, skala\.forecast\)/],
    ]);
    await expectUnloadable(url, { runtime: "skala.forecast", artifact: { json: withoutPeriod } }, [
      ["/artifact", /period must be a positive integer/],
    ]);
    await expectUnloadable(url, { runtime: "skala.forecast", artifact: { json: { format: "other" } } }, [
      ["/artifact", /format is "other"/],
    ]);
    const unrestorable = { ...forecastArtifact(1), state: { ...forecastArtifact(1).state, method: "magic" } };
    await expectUnloadable(url, { runtime: "skala.forecast", artifact: { json: unrestorable } }, [
      ["/artifact", /invalid fitted state: unknown method/],
    ]);
    expect((await ctx.app.inject({ method: "GET", url })).json().items).toEqual([]);
    expect((await ctx.app.inject({ method: "GET", url: `${API}/models/single` })).json().latestVersion).toBe(
      0,
    );
    // The refused bytes were never written to the artifact store.
    const blob = await ctx.app.inject({ method: "GET", url: `/api/v1/artifacts/${digestOf(CORRUPT)}` });
    expect(blob.statusCode).toBe(404);

    // What loads is accepted, and the checks left no session behind in the ONNX worker.
    expect((await post(url, { runtime: "onnx", artifact: { base64: base64(ONNX) } })).statusCode).toBe(201);
    const forecast = { runtime: "skala.forecast", artifact: { json: forecastArtifact(1) } };
    expect((await post(url, forecast)).statusCode).toBe(201);
    expect(ctx.runtimes.onnx.stats().reduce((sum, slot) => sum + slot.sessions, 0)).toBe(0);
  });

  it("checks an uploaded artifact registered by digest", async () => {
    const upload = await ctx.app.inject({
      method: "POST",
      url: "/api/v1/artifacts",
      headers: { "content-type": "application/octet-stream" },
      payload: Buffer.from(CORRUPT),
    });
    expect(upload.statusCode, upload.body).toBe(201);
    await ctx.registry.models.create(DEFAULT_PROJECT, { name: "by-digest" });
    await expectUnloadable(
      `${API}/models/by-digest/versions`,
      { runtime: "onnx", artifact: { digest: digestOf(CORRUPT) } },
      [["/artifact", /onnxruntime could not load the model/]],
    );
  });

  it("refuses a whole bulk registration, listing every item that could never load, and stores nothing", async () => {
    const versions = [
      { model: "bulk-ok", runtime: "onnx", artifact: { base64: base64(ONNX) } },
      { model: "bulk-corrupt", runtime: "onnx", artifact: { base64: base64(CORRUPT) } },
      { model: "bulk-ok", runtime: "skala.forecast", artifact: { json: forecastArtifact(2) } },
      { model: "bulk-exotic", runtime: "sklearn", artifact: { base64: base64(ONNX) } },
      { model: "bulk-no-period", runtime: "skala.forecast", artifact: { json: withoutPeriod } },
    ];
    await expectUnloadable(`${API}/bulk/versions`, { versions }, [
      ["/versions/1/artifact", /onnxruntime could not load the model/],
      ["/versions/3/runtime", /runtime "sklearn" is not available/],
      ["/versions/4/artifact", /period must be a positive integer/],
    ]);
    for (const model of ["bulk-ok", "bulk-corrupt", "bulk-exotic", "bulk-no-period"]) {
      const res = await ctx.app.inject({ method: "GET", url: `${API}/models/${model}` });
      expect(res.json().error.code, model).toBe("MODEL_NOT_FOUND");
    }
    const valid = [versions[0], versions[2]];
    expect((await post(`${API}/bulk/versions`, { versions: valid })).statusCode).toBe(201);
  });

  it("refuses an ONNX version whose declared signature contradicts the model, listing every difference", async () => {
    await ctx.registry.models.create(DEFAULT_PROJECT, { name: "signed" });
    const url = `${API}/models/signed/versions`;
    const tensor = (name: string, datatype: string, shape: number[]) => ({ name, datatype, shape });
    // The model: input "input" FP32 [-1, 4], output "output" FP32 [-1, 2].
    const wrong = {
      runtime: "onnx",
      artifact: { base64: base64(ONNX) },
      signature: {
        inputs: [tensor("features", "FP32", [-1, 4])],
        outputs: [tensor("output", "FP64", [-1, 2, 1]), tensor("scores", "FP32", [-1])],
      },
    };
    const res = await post(url, wrong);
    expect(res.statusCode, res.body).toBe(422);
    const body = res.json() as ErrorEnvelope;
    expect(body.error.code).toBe("SIGNATURE_MISMATCH");
    expect(body.error.details?.issues).toEqual([
      {
        path: "/signature/inputs/0/name",
        message: expect.stringMatching(/the model has no input "features"/),
      },
      {
        path: "/signature/outputs/0/datatype",
        message: 'output "output" is FP64 in the signature and FP32 in the model',
      },
      { path: "/signature/outputs/0/shape", message: expect.stringMatching(/\[-1, 2, 1\] in the signature/) },
      { path: "/signature/outputs/1/name", message: expect.stringMatching(/no output "scores"/) },
      {
        path: "/signature/inputs",
        message: expect.stringMatching(/input "input" \(FP32 \[-1, 4\]\) is missing/),
      },
    ]);
    // A variable dimension where the model fixes one, or another fixed size, is refused too.
    const loose = await post(url, {
      ...wrong,
      signature: { inputs: [tensor("input", "FP32", [-1, -1])], outputs: [tensor("output", "FP32", [8, 3])] },
    });
    expect(loose.statusCode).toBe(422);
    expect((loose.json() as ErrorEnvelope).error.details?.issues?.map((issue) => issue.path)).toEqual([
      "/signature/inputs/0/shape",
      "/signature/outputs/0/shape",
    ]);
    expect((await ctx.app.inject({ method: "GET", url })).json().items).toEqual([]);

    // A signature the model satisfies (a fixed batch where the model's is variable, some outputs) is accepted.
    const fitting = {
      ...wrong,
      signature: { inputs: [tensor("input", "FP32", [1, 4])], outputs: [tensor("output", "FP32", [-1, 2])] },
    };
    expect((await post(url, fitting)).statusCode).toBe(201);
    // In bulk, the same blob under another signature is checked again; a corrupt version makes it unloadable.
    const bulk = await post(`${API}/bulk/versions`, {
      versions: [
        { model: "signed", ...fitting },
        {
          model: "signed",
          ...wrong,
          signature: { inputs: [], outputs: [tensor("output", "INT64", [-1, 2])] },
        },
        { model: "signed", runtime: "onnx", artifact: { base64: base64(CORRUPT) } },
      ],
    });
    expect(bulk.statusCode).toBe(422);
    expect((bulk.json() as ErrorEnvelope).error).toMatchObject({
      code: "VERSION_UNLOADABLE",
      details: {
        issues: [
          { path: "/versions/1/signature/outputs/0/datatype" },
          { path: "/versions/2/artifact", message: expect.stringMatching(/onnxruntime could not load/) },
        ],
      },
    });
  });

  it("refuses at the service level too, for single and bulk registration", async () => {
    const single = await ctx.registry.versions
      .create(DEFAULT_PROJECT, "single", { runtime: "onnx", artifact: { base64: base64(CORRUPT) } })
      .catch((error: unknown) => error);
    expect(single).toBeInstanceOf(SkalaError);
    expect(single).toMatchObject({
      code: "VERSION_UNLOADABLE",
      details: { issues: [{ path: "/artifact", message: expect.stringMatching(/onnxruntime/) }] },
    });
    const bulk = await ctx.registry.versions
      .bulkRegister(DEFAULT_PROJECT, {
        versions: [
          { model: "svc", runtime: "skala.forecast", artifact: { json: forecastArtifact(3) } },
          { model: "svc", runtime: "skala.forecast", artifact: { json: withoutPeriod } },
        ],
      })
      .catch((error: unknown) => error);
    expect(bulk).toMatchObject({
      code: "VERSION_UNLOADABLE",
      details: { issues: [{ path: "/versions/1/artifact", message: expect.stringMatching(/period/) }] },
    });
    await expect(ctx.registry.models.get(DEFAULT_PROJECT, "svc")).rejects.toMatchObject({
      code: "MODEL_NOT_FOUND",
    });
  });

  it("accepts any artifact where no validator is configured (a registry-only process)", async () => {
    const registryOnly = await testApp({ artifactValidation: false });
    try {
      const res = await registryOnly.app.inject({
        method: "POST",
        url: `${API}/bulk/versions`,
        payload: {
          versions: [{ model: "anything", runtime: "tensorflow", artifact: { base64: base64(CORRUPT) } }],
        },
      });
      expect(res.statusCode).toBe(201);
    } finally {
      await registryOnly.close();
    }
  });
});

describe("requests that name no version are not answered by a flagged or failed version", () => {
  let ctx: Ctx;
  beforeAll(async () => {
    ctx = await testApp({ inference: { deploymentTtlMs: 0, environment: "prod" } });
    const onnx = (seed: number) => ({
      base64: base64(buildTestModel({ kind: "linear", inputs: 4, outputs: 2, seed })),
    });
    await ctx.registry.versions.bulkRegister(DEFAULT_PROJECT, {
      versions: [
        { model: "gated", runtime: "onnx", artifact: onnx(1) },
        { model: "gated", runtime: "onnx", artifact: onnx(2), status: "flagged" },
        { model: "only-flagged", runtime: "onnx", artifact: onnx(3), status: "flagged" },
        { model: "only-flagged", runtime: "onnx", artifact: onnx(4), status: "failed" },
        {
          model: "flagged-champion",
          runtime: "onnx",
          artifact: onnx(5),
          status: "flagged",
          aliases: ["champion"],
        },
      ],
    });
  });
  afterAll(() => ctx.close());

  const infer = (url: string) => ctx.app.inject({ method: "POST", url, payload: BODY });

  it("answers with the latest ready version when a newer one failed its gate", async () => {
    const res = await infer("/v2/models/gated/infer");
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().model_version).toBe("1");
    expect((await ctx.app.inject({ method: "GET", url: "/v2/models/gated" })).json().versions).toEqual(["1"]);
  });

  it("answers 404 saying why when no version is ready, and serves a flagged version addressed explicitly", async () => {
    const res = await infer("/v2/models/only-flagged/infer");
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toMatch(
      /model "only-flagged" has no version to serve by default: no "champion" alias and no version is ready \(the latest, version 2, is failed\)/,
    );
    expect(
      (await ctx.app.inject({ method: "POST", url: "/v2/repository/models/only-flagged/load" })).statusCode,
    ).toBe(404);
    const addressed = await infer("/v2/models/only-flagged/versions/1/infer");
    expect(addressed.statusCode, addressed.body).toBe(200);
    expect(addressed.json().model_version).toBe("1");
    expect((await infer("/v2/models/gated/versions/2/infer")).json().model_version).toBe("2");
  });

  it("serves a flagged version that a deployment or the champion alias chose", async () => {
    await ctx.registry.deployments.set(DEFAULT_PROJECT, "prod", "only-flagged", {
      routes: [{ target: "1", weight: 100 }],
    });
    const deployed = await infer("/v2/models/only-flagged/infer");
    expect(deployed.statusCode, deployed.body).toBe(200);
    expect(deployed.json().model_version).toBe("1");
    await ctx.registry.deployments.delete(DEFAULT_PROJECT, "prod", "only-flagged");
    expect((await infer("/v2/models/only-flagged/infer")).statusCode).toBe(404);
    expect((await infer("/v2/models/flagged-champion/infer")).json().model_version).toBe("1");
  });
});
