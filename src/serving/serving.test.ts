import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../http/test-support/test-app.js";
import { DEFAULT_PROJECT } from "../registry/index.js";
import { AdmissionGate } from "./admission.js";
import type { PredictionRecord } from "./prediction-record.js";
import { pickRoute, trafficPoint } from "./routing.js";
import {
  buildTestModel,
  randomInput,
  referenceOutput,
  type TestModelSpec,
} from "./test-support/onnx-models/index.js";

/**
 * Serving beyond the protocol: deployment routing (traffic split by request id, shadow copies), pinning of
 * deployed versions, admission control, bounded per-model metrics and worker recycling.
 */

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const SPEC = (seed: number): TestModelSpec => ({ kind: "linear", inputs: 4, outputs: 2, seed });
const INPUT = randomInput(4, 1, 99);
const BODY = { inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], data: Array.from(INPUT) }] };

describe("routing", () => {
  it("splits traffic by weight, and the same request id always takes the same route", () => {
    const routes = [
      { target: "champion", weight: 90 },
      { target: "challenger", weight: 10 },
    ];
    const counts = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const route = pickRoute(routes, trafficPoint("part-A12", `request-${i}`));
      counts.set(route?.target ?? "none", (counts.get(route?.target ?? "none") ?? 0) + 1);
    }
    expect((counts.get("challenger") ?? 0) / 20_000).toBeGreaterThan(0.085);
    expect((counts.get("challenger") ?? 0) / 20_000).toBeLessThan(0.115);
    for (let i = 0; i < 100; i++) {
      expect(trafficPoint("m", `id-${i}`)).toBe(trafficPoint("m", `id-${i}`));
    }
    // Without an id the choice is random; zero-weight routes never answer.
    expect(
      pickRoute(
        [
          { target: "a", weight: 0 },
          { target: "b", weight: 100 },
        ],
        0,
      )?.target,
    ).toBe("b");
    expect(pickRoute(routes, 99.999)?.target).toBe("challenger");
  });

  it("admission control refuses beyond its limit and releases once", () => {
    const gate = new AdmissionGate(2);
    const a = gate.tryEnter();
    const b = gate.tryEnter();
    expect(gate.tryEnter()).toBeUndefined();
    a?.();
    a?.();
    expect(gate.inflight).toBe(1);
    expect(gate.tryEnter()).toBeDefined();
    b?.();
    expect(gate.refused).toBe(1);
  });
});

describe("deployments over /v2", () => {
  type Ctx = Awaited<ReturnType<typeof testApp>>;
  let ctx: Ctx;
  const logged: PredictionRecord[] = [];
  const backgroundErrors: string[] = [];
  const url = "/v2/models/rt/infer";

  beforeAll(async () => {
    ctx = await testApp({
      inference: {
        // Deployments are read on every request here, so changes show at once.
        deploymentTtlMs: 0,
        environment: "prod",
        predictionLog: { record: (record) => logged.push(record) },
        onBackgroundError: (what) => backgroundErrors.push(what),
        recycleEveryLoads: 3,
      },
      metricsTopModels: 2,
      metricsModels: ["m1"],
      // Version 4 of rt is a broken artifact, which only a registry without the artifact check accepts.
      artifactValidation: false,
    });
    await ctx.registry.versions.bulkRegister(DEFAULT_PROJECT, {
      versions: [
        ...[1, 2, 3].map((seed) => ({
          model: "rt",
          runtime: "onnx",
          artifact: { base64: base64(buildTestModel(SPEC(seed))) },
          ...(seed === 1 && { aliases: ["champion"] }),
          ...(seed === 2 && { aliases: ["challenger"] }),
        })),
        { model: "rt", runtime: "onnx", artifact: { base64: base64(new TextEncoder().encode("broken")) } },
        ...["m1", "m2", "m3"].map((model, i) => ({
          model,
          runtime: "onnx",
          artifact: { base64: base64(buildTestModel(SPEC(10 + i))) },
        })),
      ],
    });
  });
  afterAll(() => ctx.close());

  async function infer(headers: Record<string, string> = {}, body: Record<string, unknown> = BODY) {
    const res = await ctx.app.inject({ method: "POST", url, payload: body, headers });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { model_version: string; id?: string; outputs: Array<{ data: number[] }> };
  }

  it("splits traffic between champion and challenger deterministically by request id", async () => {
    await ctx.registry.deployments.set(DEFAULT_PROJECT, "prod", "rt", {
      routes: [
        { target: "champion", weight: 80 },
        { target: "challenger", weight: 20 },
      ],
    });
    const versions = new Map<string, number>();
    const answers = new Map<string, string>();
    for (let i = 0; i < 200; i++) {
      const answer = await infer({}, { ...BODY, id: `req-${i}` });
      expect(answer.id).toBe(`req-${i}`);
      answers.set(`req-${i}`, answer.model_version);
      versions.set(answer.model_version, (versions.get(answer.model_version) ?? 0) + 1);
    }
    expect([...versions.keys()].sort()).toEqual(["1", "2"]);
    expect((versions.get("2") ?? 0) / 200).toBeGreaterThan(0.1);
    expect((versions.get("2") ?? 0) / 200).toBeLessThan(0.3);
    // The same ids again, in the body or as X-Request-Id: the same versions answer.
    for (let i = 0; i < 40; i++) {
      expect((await infer({}, { ...BODY, id: `req-${i}` })).model_version).toBe(answers.get(`req-${i}`));
      expect((await infer({ "x-request-id": `req-${i}` })).model_version).toBe(answers.get(`req-${i}`));
    }
    // The answering version's outputs are its own.
    const v2 = await infer({}, { ...BODY, id: [...answers].find(([, v]) => v === "2")?.[0] ?? "" });
    const expected = referenceOutput(SPEC(2), INPUT);
    v2.outputs[0]?.data.forEach((value, i) => {
      expect(value).toBeCloseTo(expected[i] as number, 5);
    });
    // A request naming a version bypasses the deployment.
    const direct = await ctx.app.inject({
      method: "POST",
      url: "/v2/models/rt/versions/3/infer",
      payload: BODY,
    });
    expect(direct.json().model_version).toBe("3");
  });

  it("resolves route aliases per request, so moving champion moves its traffic at once", async () => {
    await ctx.registry.deployments.set(DEFAULT_PROJECT, "prod", "rt", {
      routes: [{ target: "champion", weight: 100 }],
    });
    expect((await infer()).model_version).toBe("1");
    await ctx.registry.versions.setAlias(DEFAULT_PROJECT, "rt", "champion", { version: 3 });
    expect((await infer()).model_version).toBe("3");
    await ctx.registry.versions.setAlias(DEFAULT_PROJECT, "rt", "champion", { version: 1 });
  });

  it("pins the versions a pinned deployment routes to, and unpins them when it changes", async () => {
    const pinnedVersions = () =>
      ctx.inference?.cache
        .states()
        .filter((s) => s.pinned)
        .map((s) => s.key) ?? [];
    const v1 = await ctx.registry.versions.get(DEFAULT_PROJECT, "rt", 1);
    const v3 = await ctx.registry.versions.get(DEFAULT_PROJECT, "rt", 3);
    await ctx.registry.deployments.set(DEFAULT_PROJECT, "prod", "rt", {
      routes: [{ target: "champion", weight: 100 }],
    });
    await infer();
    expect(pinnedVersions()).toEqual([v1.id]);
    await ctx.registry.versions.setAlias(DEFAULT_PROJECT, "rt", "champion", { version: 3 });
    await infer();
    expect(pinnedVersions()).toEqual([v3.id]);
    await ctx.registry.deployments.set(DEFAULT_PROJECT, "prod", "rt", {
      routes: [{ target: "champion", weight: 100 }],
      pinned: false,
    });
    await infer();
    expect(pinnedVersions()).toEqual([]);
    await ctx.registry.versions.setAlias(DEFAULT_PROJECT, "rt", "champion", { version: 1 });

    // Warm-up pins and loads the targets of pinned deployments before any request.
    await ctx.registry.deployments.set(DEFAULT_PROJECT, "prod", "rt", {
      routes: [{ target: "champion", weight: 100 }],
    });
    await ctx.inference?.unload("rt");
    expect(await ctx.inference?.warmUp()).toEqual({ pinned: 1, failed: 0 });
    const row = ctx.inference?.cache.states().find((s) => s.key === v1.id);
    expect(row).toMatchObject({ state: "ready", pinned: true });
  });

  it("sends shadow copies whose answers are logged and never returned", async () => {
    await ctx.registry.deployments.set(DEFAULT_PROJECT, "prod", "rt", {
      routes: [{ target: "champion", weight: 100 }],
      shadow: "challenger",
    });
    logged.length = 0;
    for (let i = 0; i < 10; i++) {
      const answer = await infer({}, { ...BODY, id: `shadowed-${i}` });
      expect(answer.model_version).toBe("1");
      const expected = referenceOutput(SPEC(1), INPUT);
      answer.outputs[0]?.data.forEach((value, j) => {
        expect(value).toBeCloseTo(expected[j] as number, 5);
      });
    }
    await expect.poll(() => logged.filter((r) => r.route === "shadow").length).toBe(10);
    const shadow = logged.filter((r) => r.route === "shadow");
    expect(new Set(shadow.map((r) => r.version))).toEqual(new Set([2]));
    const expected = referenceOutput(SPEC(2), INPUT);
    expect(Array.from(shadow[0]?.outputs?.[0]?.data as Float32Array)).toEqual(Array.from(expected));
    expect(new Set(logged.filter((r) => r.route !== "shadow").map((r) => r.route))).toEqual(
      new Set(["champion"]),
    );
    expect(new Set(shadow.map((r) => r.requestId))).toEqual(
      new Set(Array.from({ length: 10 }, (_, i) => `shadowed-${i}`)),
    );

    // A shadow that cannot answer (a broken artifact) changes nothing for the caller.
    await ctx.registry.deployments.set(DEFAULT_PROJECT, "prod", "rt", {
      routes: [{ target: "champion", weight: 100 }],
      shadow: "4",
    });
    backgroundErrors.length = 0;
    expect((await infer()).model_version).toBe("1");
    await expect.poll(() => backgroundErrors.length).toBeGreaterThan(0);
    expect(ctx.inference?.stats(2).shadow.failed).toBeGreaterThan(0);
    await ctx.registry.deployments.delete(DEFAULT_PROJECT, "prod", "rt");
    // Without a deployment the champion answers and the route is "default".
    logged.length = 0;
    expect((await infer()).model_version).toBe("1");
    expect(logged.at(-1)?.route).toBe("default");
  });

  it("refuses requests beyond the in-flight limit with 503 and Retry-After", async () => {
    const inference = ctx.inference;
    if (inference === undefined) throw new Error("no inference");
    const held: Array<() => void> = [];
    // Occupy every slot of an unbounded gate is impossible, so this app's gate is checked through a bounded one.
    expect(inference.admission.limit).toBe(Number.POSITIVE_INFINITY);
    const bounded = await testApp({ inference: { maxInflight: 2 } });
    try {
      for (let i = 0; i < 2; i++) {
        const release = bounded.inference?.admission.tryEnter();
        if (release) held.push(release);
      }
      const refused = await bounded.app.inject({
        method: "POST",
        url: "/v2/models/any/infer",
        payload: BODY,
      });
      expect(refused.statusCode).toBe(503);
      expect(refused.headers["retry-after"]).toBe("1");
      expect(Object.keys(refused.json())).toEqual(["error"]);
      expect(refused.json().error).toMatch(/overloaded/);
      for (const release of held) release();
      const admitted = await bounded.app.inject({
        method: "POST",
        url: "/v2/models/any/infer",
        payload: BODY,
      });
      expect(admitted.statusCode).toBe(404);
      expect(bounded.inference?.admission.inflight).toBe(0);
      expect(bounded.inference?.stats(5).refused).toBe(1);
    } finally {
      await bounded.close();
    }
  });

  it("exports lifetime series for configured models, gauges for the busiest, cache and queue figures", async () => {
    for (const [model, times] of [
      ["m1", 5],
      ["m2", 3],
      ["m3", 1],
    ] as const) {
      for (let i = 0; i < times; i++) {
        const res = await ctx.app.inject({ method: "POST", url: `/v2/models/${model}/infer`, payload: BODY });
        expect(res.statusCode).toBe(200);
      }
    }
    const text = (await ctx.app.inject({ method: "GET", url: "/metrics" })).body;
    const labelled = (family: string) =>
      new Set([...text.matchAll(new RegExp(`^${family}\\{model="([^"]+)"\\}`, "gm"))].map((m) => m[1]));
    // m1 is configured; rt, m2 and m3 count under __other__. Over the last minute rt was busiest, then m1.
    expect(labelled("skala_inference_model_requests_total")).toEqual(new Set(["m1", "__other__"]));
    expect(text).toMatch(/^skala_inference_model_requests_total\{model="m1"\} 5$/m);
    expect(labelled("skala_inference_busiest_model_recent_requests")).toEqual(new Set(["rt", "m1"]));
    expect(text).toMatch(/^skala_inference_cache_hits_total \d+$/m);
    expect(text).toMatch(/^skala_inference_cache_loads_total \d+$/m);
    expect(text).toMatch(/^skala_inference_onnx_queue_depth 0$/m);
    expect(text).toMatch(/^skala_inference_model_request_duration_seconds_count\{model="m1"\} 5$/m);
  });

  it("recycles the ONNX worker after the configured number of loads and keeps answering", async () => {
    const inference = ctx.inference;
    if (inference === undefined) throw new Error("no inference");
    // Loads so far exceed 3 (rt versions, m1–m3, the broken one): at least one recycle happened.
    expect(inference.stats(1).recycles).toBeGreaterThan(0);
    const res = await ctx.app.inject({ method: "POST", url: "/v2/models/m1/infer", payload: BODY });
    expect(res.statusCode).toBe(200);
    const expected = referenceOutput(SPEC(10), INPUT);
    (res.json().outputs[0].data as number[]).forEach((value, i) => {
      expect(value).toBeCloseTo(expected[i] as number, 5);
    });
  });
});

describe("dynamic batching per version", () => {
  it("batches concurrent requests, except for versions tagged skala.batching=off", async () => {
    const ctx = await testApp({ inference: true, onnx: { batching: { maxBatchSize: 16, maxDelayMs: 5 } } });
    try {
      const artifact = { base64: base64(buildTestModel(SPEC(5))) };
      await ctx.registry.versions.bulkRegister(DEFAULT_PROJECT, {
        versions: [
          { model: "rows-apart", runtime: "onnx", artifact, tags: { "skala.batching": "off" } },
          { model: "batched", runtime: "onnx", artifact },
        ],
      });
      const expected = referenceOutput(SPEC(5), INPUT);
      const burst = async (model: string) => {
        const answers = await Promise.all(
          Array.from({ length: 48 }, () =>
            ctx.app.inject({ method: "POST", url: `/v2/models/${model}/infer`, payload: BODY }),
          ),
        );
        for (const answer of answers) {
          expect(answer.statusCode).toBe(200);
          (answer.json().outputs[0].data as number[]).forEach((value, i) => {
            expect(value).toBeCloseTo(expected[i] as number, 5);
          });
        }
      };
      await burst("rows-apart");
      const batches = () => ctx.runtimes.onnx.batchStats();
      expect(batches()?.requests).toBe(0);
      await burst("batched");
      expect(batches()?.batches).toBeGreaterThan(0);
    } finally {
      await ctx.close();
    }
  });
});

describe("deployment changes", () => {
  it("take effect at once in this process, although deployments are cached", async () => {
    const ctx = await testApp({ inference: true });
    try {
      await ctx.registry.versions.bulkRegister(DEFAULT_PROJECT, {
        versions: [1, 2].map((seed) => ({
          model: "cached",
          runtime: "onnx",
          artifact: { base64: base64(buildTestModel(SPEC(seed))) },
        })),
      });
      const version = async () =>
        (await ctx.app.inject({ method: "POST", url: "/v2/models/cached/infer", payload: BODY })).json()
          .model_version;
      expect(await version()).toBe("2");
      await ctx.registry.deployments.set(DEFAULT_PROJECT, "prod", "cached", {
        routes: [{ target: "1", weight: 100 }],
      });
      expect(await version()).toBe("1");
      await ctx.registry.deployments.set(DEFAULT_PROJECT, "prod", "cached", {
        routes: [{ target: "2", weight: 100 }],
      });
      expect(await version()).toBe("2");
      // Another environment's deployment does not concern this server.
      await ctx.registry.deployments.set(DEFAULT_PROJECT, "dev", "cached", {
        routes: [{ target: "1", weight: 100 }],
      });
      expect(await version()).toBe("2");
      await ctx.registry.deployments.delete(DEFAULT_PROJECT, "prod", "cached");
      expect(await version()).toBe("2");
    } finally {
      await ctx.close();
    }
  });
});
