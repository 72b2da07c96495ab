import { describe, expect, it } from "vitest";
import { ModelTraffic, OTHER_MODELS } from "../serving/index.js";
import { inferenceMetricsText } from "./metrics.js";

describe("bounded per-model metrics", () => {
  it("exports the top N models and one aggregate, however many models answered", () => {
    const traffic = new ModelTraffic();
    for (let m = 0; m < 10_000; m++) {
      for (let r = 0; r <= m % 7; r++) traffic.observe(`model-${m}`, 0.001 * (r + 1), r === 3);
    }
    const snapshot = traffic.snapshot(20);
    expect(snapshot.models).toBe(10_000);
    expect(snapshot.rows).toHaveLength(21);
    const other = snapshot.rows.at(-1);
    expect(other?.model).toBe(OTHER_MODELS);
    const total = snapshot.rows.reduce((sum, row) => sum + row.requests, 0);
    expect(total).toBe(Array.from({ length: 10_000 }, (_, m) => (m % 7) + 1).reduce((a, b) => a + b, 0));
    for (const row of snapshot.rows) expect(row.buckets.at(-1)).toBe(row.requests);
    const text = inferenceMetricsText({
      traffic: snapshot,
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
      shadow: { sent: 0, skipped: 0, failed: 0, inflight: 0 },
      recycles: 0,
      loads: { quantiles: [{ q: 0.99, ms: 12 }], count: 3, sumMs: 20, window: 3 },
      batching: { batches: 2, requests: 9 },
    });
    expect(text).toMatch(/^skala_inference_model_load_duration_seconds\{quantile="0.99"\} 0.012$/m);
    const modelLabels = new Set([...text.matchAll(/model="([^"]+)"/g)].map((m) => m[1]));
    expect(modelLabels.size).toBe(21);
    expect(text.split("\n").length).toBeLessThan(21 * 20 + 100);
    expect(text).toMatch(/^skala_inference_cache_evictions_total 4$/m);
  });
});
