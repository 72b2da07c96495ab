import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildTestModel,
  randomInput,
  type TestModelSpec,
} from "../../src/serving/test-support/onnx-models/index.js";
import { startSkala, stopSkala } from "./server-process.js";

/**
 * Overload: a real `skala up` process with one ONNX worker and a small in-flight limit (its worker queue is
 * deeper, so admission is what refuses) gets far more concurrent requests than it can hold. It must answer the excess with 503 and
 * Retry-After (never another 5xx, never a hang), keep answering the rest correctly, stay up, and keep its
 * memory bounded, measured as the process's resident set (VmRSS / VmHWM from /proc).
 */

const MLP: TestModelSpec = { kind: "mlp", inputs: 64, hidden: 256, outputs: 8, seed: 7 };
const ROWS = 256;

async function memoryOf(pid: number): Promise<{ rssMb: number; peakMb: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
}

describe.skipIf(process.platform !== "linux")("overload", () => {
  let dataDir: string;
  let url: string;
  let child: Awaited<ReturnType<typeof startSkala>>["child"];
  const body = JSON.stringify({
    inputs: [
      { name: "input", datatype: "FP32", shape: [ROWS, 64], data: Array.from(randomInput(64, ROWS, 3)) },
    ],
  });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "skala-overload-"));
    ({ url, child } = await startSkala(dataDir, ["--workers", "false"], {
      SKALA_INFERENCE_ONNX_WORKERS: "1",
      // Deeper than the in-flight limit, so admission (counted once a body has arrived) is what refuses.
      SKALA_INFERENCE_MAX_QUEUE_PER_WORKER: "32",
      SKALA_INFERENCE_MAX_INFLIGHT: "24",
      SKALA_INFERENCE_PREDICTION_SAMPLE_RATE: "0",
    }));
    const registered = await fetch(`${url}/api/v1/projects/default/bulk/versions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        versions: [
          {
            model: "heavy",
            runtime: "onnx",
            artifact: { base64: Buffer.from(buildTestModel(MLP)).toString("base64") },
          },
        ],
      }),
    });
    expect(registered.status).toBe(201);
    // Warm up: the model is loaded and the worker thread started before memory is measured.
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${url}/v2/models/heavy/infer`, { method: "POST", body });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
  }, 60_000);

  afterAll(async () => {
    if (child) await stopSkala(child);
    await rm(dataDir, { recursive: true, force: true });
  });

  it("answers the excess with 503 + Retry-After, the rest correctly, stays up, and keeps memory bounded", async () => {
    const pid = child.pid as number;
    const baseline = await memoryOf(pid);
    const statuses = new Map<number, number>();
    let retryAfterMissing = 0;
    let maxRss = baseline.rssMb;
    for (let wave = 0; wave < 3; wave++) {
      const answers = await Promise.all(
        Array.from({ length: 250 }, async () => {
          const res = await fetch(`${url}/v2/models/heavy/infer`, { method: "POST", body });
          const text = await res.text();
          if (res.status === 503) {
            if (res.headers.get("retry-after") === null) retryAfterMissing++;
            expect(Object.keys(JSON.parse(text))).toEqual(["error"]);
          } else if (res.status === 200) {
            const answer = JSON.parse(text) as { outputs: Array<{ shape: number[] }> };
            expect(answer.outputs[0]?.shape).toEqual([ROWS, 8]);
          }
          return res.status;
        }),
      );
      for (const status of answers) statuses.set(status, (statuses.get(status) ?? 0) + 1);
      maxRss = Math.max(maxRss, (await memoryOf(pid)).rssMb);
    }
    const after = await memoryOf(pid);
    console.log(
      `overload: statuses ${JSON.stringify(Object.fromEntries(statuses))}; RSS baseline ${baseline.rssMb.toFixed(0)} MB, ` +
        `max sampled ${maxRss.toFixed(0)} MB, peak (VmHWM) ${after.peakMb.toFixed(0)} MB`,
    );
    expect([...statuses.keys()].every((s) => s === 200 || s === 503)).toBe(true);
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
    expect(retryAfterMissing).toBe(0);
    // 750 requests of ~0.4 MB of JSON each went through or were refused; what the server holds is bounded by
    // the in-flight limit (24 bodies and their tensors), not by the number of clients.
    expect(after.peakMb - baseline.rssMb).toBeLessThan(300);
    const live = await fetch(`${url}/v2/health/live`);
    expect(live.status).toBe(200);
    const still = await fetch(`${url}/v2/models/heavy/infer`, { method: "POST", body });
    expect(still.status).toBe(200);
    // Every 503 a client got is counted by exactly one refusal counter: admission (the in-flight limit), or the
    // ONNX worker's queue (inference.maxQueuePerWorker) for a request admitted and then refused there.
    const families = parsePrometheusTextFormat(await (await fetch(`${url}/metrics`)).text());
    const counter = (name: string): number => {
      const family = families.find((f) => f.name === name);
      expect(family?.type, name).toBe("COUNTER");
      return Number(family?.metrics[0]?.value);
    };
    const admission = counter("skala_inference_requests_refused_total");
    const workerQueue = counter("skala_inference_onnx_queue_refused_total");
    console.log(`overload: refused by admission ${admission}, by the worker queue ${workerQueue}`);
    expect(admission).toBeGreaterThan(0);
    expect(admission + workerQueue).toBe(statuses.get(503));
  }, 120_000);
});
