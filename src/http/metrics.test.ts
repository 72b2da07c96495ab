import Fastify from "fastify";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_PROJECT } from "../registry/index.js";
import { type InferenceObserver, type InferenceStats, RecentTraffic } from "../serving/index.js";
import { buildTestModel, randomInput } from "../serving/test-support/onnx-models/index.js";
import { installMetrics, OTHER_MODELS } from "./metrics.js";
import { cumulativeSeries, type Family, parsePrometheusText } from "./test-support/prometheus-text.js";
import { testApp } from "./test-support/test-app.js";

/**
 * `/metrics` must stay a valid exposition whose counters never decrease while the process lives, and whose
 * size does not grow with the number of models, however traffic moves between them.
 */

interface Scrape {
  text: string;
  families: Map<string, Family>;
}

function read(text: string): Scrape {
  // The maintained parser must accept the whole exposition; the strict one checks what it cannot read.
  const parsed = parsePrometheusTextFormat(text);
  const families = parsePrometheusText(text);
  for (const family of parsed) {
    expect(families.get(family.name)?.type.toUpperCase(), family.name).toBe(family.type);
    if (family.type !== "COUNTER") continue;
    // Both parsers read the same counter values.
    for (const metric of family.metrics) {
      const strict = families
        .get(family.name)
        ?.samples.find((s) => sameLabels(s.labels, metric.labels ?? {}));
      expect(strict?.value, `${family.name} ${JSON.stringify(metric.labels)}`).toBe(Number(metric.value));
    }
  }
  return { text, families };
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** Every cumulative series of `before` is still there in `after`, and no lower. */
function expectMonotonic(before: Scrape, after: Scrape): void {
  const earlier = cumulativeSeries(before.families);
  const later = cumulativeSeries(after.families);
  const dropped: string[] = [];
  for (const [key, value] of earlier) {
    if (key.startsWith("skala_http_")) continue; // per-request HTTP series are monotonic by construction
    const now = later.get(key);
    if (now === undefined || now < value) dropped.push(`${key}: ${value} → ${now ?? "gone"}`);
  }
  expect(dropped).toEqual([]);
}

function modelsIn(scrape: Scrape, family: string): string[] {
  return [...new Set(scrape.families.get(family)?.samples.map((s) => s.labels.model ?? "") ?? [])].sort();
}

function sampleValue(scrape: Scrape, family: string, labels: Record<string, string>): number | undefined {
  return scrape.families.get(family)?.samples.find((s) => sameLabels(s.labels, labels))?.value;
}

describe("/metrics across changes of the busiest models", () => {
  type Ctx = Awaited<ReturnType<typeof testApp>>;
  let ctx: Ctx;
  const good = {
    inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], data: Array.from(randomInput(4, 1, 1)) }],
  };
  // A shape the models refuse (400): the request counts as an error of its model.
  const bad = { inputs: [{ name: "input", datatype: "FP32", shape: [1, 3], data: [1, 2, 3] }] };

  beforeAll(async () => {
    ctx = await testApp({ inference: true, metricsTopModels: 1 });
    await ctx.registry.versions.bulkRegister(DEFAULT_PROJECT, {
      versions: ["m1", "m2", "m3"].map((model, seed) => ({
        model,
        runtime: "onnx",
        artifact: {
          base64: Buffer.from(buildTestModel({ kind: "linear", inputs: 4, outputs: 2, seed })).toString(
            "base64",
          ),
        },
      })),
    });
  });
  afterAll(() => ctx.close());

  async function send(model: string, times: number, body: object, status: number): Promise<void> {
    for (let i = 0; i < times; i++) {
      const res = await ctx.app.inject({ method: "POST", url: `/v2/models/${model}/infer`, payload: body });
      expect(res.statusCode, res.body).toBe(status);
    }
  }

  const scrape = async () => read((await ctx.app.inject({ method: "GET", url: "/metrics" })).body);

  it("keeps every counter series monotonic while the busiest model changes", async () => {
    await send("m1", 6, good, 200);
    await send("m2", 4, bad, 400);
    await send("m3", 1, good, 200);
    const first = await scrape();
    // m2, whose requests all failed, becomes the busiest: its errors must not leave any counter.
    await send("m2", 10, good, 200);
    const second = await scrape();
    await send("m1", 10, good, 200);
    await send("m3", 2, bad, 400);
    const third = await scrape();

    expectMonotonic(first, second);
    expectMonotonic(second, third);
    // No model is configured, so every model counts under __other__, the one lifetime series per family.
    expect(modelsIn(third, "skala_inference_model_requests_total")).toEqual([OTHER_MODELS]);
    expect(sampleValue(third, "skala_inference_model_requests_total", { model: OTHER_MODELS })).toBe(33);
    expect(sampleValue(third, "skala_inference_model_errors_total", { model: OTHER_MODELS })).toBe(6);
    // Which model is busiest is a gauge, and it followed the traffic.
    const busiest = "skala_inference_busiest_model_recent_requests";
    expect(modelsIn(first, busiest)).toEqual(["m1"]);
    expect(modelsIn(second, busiest)).toEqual(["m2"]);
    expect(sampleValue(second, "skala_inference_busiest_model_recent_errors", { model: "m2" })).toBe(4);
    expect(modelsIn(third, busiest)).toEqual(["m1"]);
    expect(sampleValue(third, busiest, { model: "m1" })).toBe(16);
    expect(first.families.get(busiest)?.type).toBe("gauge");
    expect(third.text).toMatch(/^skala_inference_cache_loads_total 3$/m);
  });
});

describe("/metrics at 10,000 models", () => {
  it("exports a bounded set of series whose counters only grow, while the busiest models change", async () => {
    // The inference service's side, played by the test: the same recent-traffic ranking, and the same events.
    let now = 0;
    const recent = new RecentTraffic(() => now);
    const observers = new Set<InferenceObserver>();
    const stats = (topModels: number): InferenceStats => ({
      traffic: recent.snapshot(topModels),
      cache: {
        hits: 1,
        misses: 2,
        loads: 3,
        loadFailures: 0,
        evictions: 4,
        unloads: 0,
        cacheFull: 0,
        bytesResident: 10,
        bytesReserved: 10,
        residentModels: 1,
        loadsSinceRecycle: 3,
        evictionsSinceRecycle: 4,
      },
      onnxQueueDepth: 0,
      inflight: 0,
      refused: 0,
      onnxQueueRefused: 0,
      shadow: { sent: 0, skipped: 0, failed: 0, inflight: 0 },
      recycles: 0,
      batching: { batches: 2, requests: 9 },
    });
    const subscribe = (observer: InferenceObserver) => {
      observers.add(observer);
      return () => observers.delete(observer);
    };
    const app = Fastify();
    const registry = installMetrics(app, {
      inference: { stats, subscribe },
      models: ["model-1", "model-9999"],
      topModels: 20,
    });
    const scrape = async () => read(await registry.metrics());
    const hammer = (from: number, to: number, times: number, seconds: number, failed: boolean) => {
      for (let m = from; m < to; m++) {
        for (let i = 0; i < times; i++) {
          recent.observe(`model-${m}`, failed);
          for (const observer of observers) observer.answered?.(`model-${m}`, seconds, failed);
        }
      }
    };
    for (const observer of observers) for (const seconds of [0.004, 0.012, 0.008]) observer.loaded?.(seconds);

    hammer(0, 10_000, 1, 0.002, false);
    hammer(0, 50, 20, 0.0008, false);
    const first = await scrape();
    // A minute later the traffic has moved to other models, which are slow and failing.
    now += 70_000;
    hammer(5_000, 5_050, 30, 0.3, true);
    const second = await scrape();
    now += 70_000;
    hammer(0, 50, 5, 0.0008, false);
    hammer(1, 2, 40, 0.02, true);
    const third = await scrape();

    expectMonotonic(first, second);
    expectMonotonic(second, third);
    for (const scrape of [first, second, third]) {
      for (const family of [
        "skala_inference_model_requests_total",
        "skala_inference_model_errors_total",
        "skala_inference_model_request_duration_seconds",
      ]) {
        expect(modelsIn(scrape, family)).toEqual([OTHER_MODELS, "model-1", "model-9999"]);
      }
      expect(modelsIn(scrape, "skala_inference_busiest_model_recent_requests").length).toBeLessThanOrEqual(
        20,
      );
      const inference = scrape.text.split("\n").filter((line) => line.startsWith("skala_inference_"));
      expect(inference.length).toBeLessThan(200);
      expect(sampleValue(scrape, "skala_inference_models_served", {})).toBe(10_000);
    }
    const requests = (s: Scrape) =>
      s.families.get("skala_inference_model_requests_total")?.samples.reduce((sum, x) => sum + x.value, 0);
    expect(requests(third)).toBe(10_000 + 50 * 20 + 50 * 30 + 50 * 5 + 40);
    expect(sampleValue(third, "skala_inference_model_errors_total", { model: "model-1" })).toBe(40);
    expect(sampleValue(third, "skala_inference_model_errors_total", { model: OTHER_MODELS })).toBe(1_500);

    const busiest = (s: Scrape) => modelsIn(s, "skala_inference_busiest_model_recent_requests");
    expect(busiest(first).every((m) => Number(m.slice(6)) < 50)).toBe(true);
    expect(busiest(second)).toHaveLength(20);
    expect(busiest(second).every((m) => Number(m.slice(6)) >= 5_000)).toBe(true);
    expect(
      sampleValue(second, "skala_inference_busiest_model_recent_errors", { model: busiest(second)[0] ?? "" }),
    ).toBe(30);
    const recentOf = (s: Scrape) =>
      s.families.get("skala_inference_busiest_model_recent_requests")?.samples.map((x) => x.value) ?? [];
    expect(sampleValue(third, "skala_inference_busiest_model_recent_requests", { model: "model-1" })).toBe(
      45,
    );
    expect(Math.max(...recentOf(third))).toBe(45);
    // The figures `bench:serve` reads keep their names and shapes.
    expect(third.text).toMatch(/^skala_inference_model_load_duration_seconds\{quantile="0.99"\} 0.012$/m);
    expect(third.text).toMatch(/^skala_inference_model_load_duration_seconds_count 3$/m);
    expect(third.text).toMatch(/^skala_inference_cache_evictions_total 4$/m);
    // Closing the app unsubscribes its metrics from the service.
    await app.close();
    expect(observers.size).toBe(0);
  });
});

describe("/metrics and overload", () => {
  it("counts every 503 of an infer request once: refused by admission or by the ONNX worker's queue", async () => {
    // 30 requests at once for a model not loaded yet: admission lets 4 in, which wait for the load and then meet
    // a worker that queues 1, so both refuse some.
    const ctx = await testApp({ inference: { maxInflight: 4 }, onnx: { maxQueue: 1 } });
    try {
      await ctx.registry.versions.bulkRegister(DEFAULT_PROJECT, {
        versions: [
          {
            model: "m",
            runtime: "onnx",
            artifact: {
              base64: Buffer.from(
                buildTestModel({ kind: "linear", inputs: 4, outputs: 2, seed: 1 }),
              ).toString("base64"),
            },
          },
        ],
      });
      const payload = {
        inputs: [{ name: "input", datatype: "FP32", shape: [1, 4], data: Array.from(randomInput(4, 1, 1)) }],
      };
      const infer = () => ctx.app.inject({ method: "POST", url: "/v2/models/m/infer", payload });
      const statuses = (await Promise.all(Array.from({ length: 30 }, infer))).map((res) => res.statusCode);
      expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
      const scrape = read((await ctx.app.inject({ method: "GET", url: "/metrics" })).body);
      const admission = sampleValue(scrape, "skala_inference_requests_refused_total", {}) ?? Number.NaN;
      const workerQueue = sampleValue(scrape, "skala_inference_onnx_queue_refused_total", {}) ?? Number.NaN;
      expect(admission).toBeGreaterThan(0);
      expect(workerQueue).toBeGreaterThan(0);
      expect(admission + workerQueue).toBe(statuses.filter((s) => s === 503).length);
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    } finally {
      await ctx.close();
    }
  });
});
