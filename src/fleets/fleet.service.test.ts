import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryBlobStore } from "../artifacts/index.js";
import { type SkalaError, systemClock } from "../core/index.js";
import { JobQueue, WorkerPool } from "../jobs/index.js";
import { createRegistry, DEFAULT_PROJECT, type Registry } from "../registry/index.js";
import type { Store } from "../store/index.js";
import { freshStore, testDialects } from "../store/test-support/dialects.js";
import { failWrites, rowCounts } from "../store/test-support/faults.js";
import type { FleetProgress } from "./fleet.types.js";
import { settingsFromSpec } from "./fleet-settings.js";
import { parseFleetSpec, toSegmentPlan } from "./fleet-spec.js";
import { createFleets, type Fleets } from "./fleets.js";

const CARPARTS = new URL("../../examples/carparts/carparts.csv", import.meta.url);

/** The first `count` complete carparts series, plus extra rows, as a long CSV. */
function carpartsSubset(count: number, extra = ""): string {
  const lines = readFileSync(CARPARTS, "utf8").trim().split("\n");
  const header = lines[0] as string;
  const bySeries = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const id = line.slice(0, line.indexOf(","));
    bySeries.set(id, [...(bySeries.get(id) ?? []), line]);
  }
  const complete = [...bySeries.values()]
    .filter((rows) => rows.every((row) => !row.endsWith(",")))
    .slice(0, count);
  return `${header}\n${complete.flat().join("\n")}\n${extra}`;
}

const SPEC = (overrides: string) => `
dataset: { path: data.csv, na: error }
frequency: monthly
horizon: 12
candidates:
  - { method: ses, distribution: negbin }
  - { method: theta, distribution: negbin }
  - { method: tsb, distribution: negbin }
validation: { scheme: rolling, origins: 2, size: 6, step: 6 }
selection: { metric: wql }
gate: { baseline: { method: snaive, distribution: negbin }, metric: wql, minImprovementPct: 0 }
${overrides}`;

/** Every table a submission writes (`blobs` is written by the upload, before it). */
const SUBMISSION_TABLES = [
  "datasets",
  "dataset_versions",
  "runs",
  "run_params",
  "fleets",
  "fleet_runs",
  "fleet_segments",
  "jobs",
] as const;

describe.each(testDialects())("fleets on %s", (dialect) => {
  let store: Store;
  let registry: Registry;
  let jobs: JobQueue;
  let fleets: Fleets;
  let pool: WorkerPool;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    const fresh = await freshStore(dialect);
    store = fresh.store;
    registry = createRegistry({
      store: fresh.store,
      blobs: createMemoryBlobStore(),
      clock: systemClock,
      limits: { bulkMaxVersions: 10_000, pageSizeMax: 1_000, artifactMaxBytes: 64 << 20 },
    });
    await registry.projects.ensure(DEFAULT_PROJECT);
    jobs = new JobQueue({ store: fresh.store, clock: systemClock });
    fleets = createFleets({ store: fresh.store, registry, jobs, clock: systemClock, trainingThreads: 1 });
    pool = new WorkerPool({ queue: jobs, concurrency: 2, pollMs: 20 });
    fleets.attach(pool);
    pool.start();
    dispose = async () => {
      await pool.stop({ timeoutMs: 5_000 });
      await fleets.close();
      await fresh.dispose();
    };
  });
  afterAll(() => dispose());

  async function submit(csv: string, overrides = "", chunkSize = 10) {
    const { digest } = await registry.artifacts.upload(Buffer.from(csv));
    return submitUploaded(digest, overrides, chunkSize);
  }

  function submitUploaded(digest: string, overrides = "", chunkSize = 10) {
    const text = SPEC(overrides.includes("name:") ? overrides : `name: parts\n${overrides}`);
    const spec = parseFleetSpec(text, { baseDir: "/tmp" });
    return fleets.service.submit(DEFAULT_PROJECT, {
      settings: settingsFromSpec(spec, chunkSize),
      plan: toSegmentPlan(spec),
      datasetDigest: digest,
    });
  }

  async function finished(fleet: string, runId: string): Promise<FleetProgress> {
    for (let i = 0; i < 400; i++) {
      const progress = await fleets.service.progress(DEFAULT_PROJECT, fleet, runId);
      if (!["queued", "running"].includes(progress.run.status)) return progress;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(
      `fleet did not finish in 20 s: ${JSON.stringify(await fleets.service.progress(DEFAULT_PROJECT, fleet, runId))}`,
    );
  }

  it("trains, validates and registers every segment, with lineage, champions and a report", async () => {
    const csv = carpartsSubset(40, "short,1,3\nshort,2,0\nshort,3,1\n");
    const { run, created } = await submit(csv);
    expect(created).toBe(true);
    expect(run.total).toBe(41);
    const progress = await finished("parts", run.id);
    expect(progress).toMatchObject({ done: 41, registered: 40, failed: 1 });
    expect(progress.run.status).toBe("succeeded");

    const models = await registry.models.list(DEFAULT_PROJECT, { fleet: "parts", limit: 1000 });
    expect(models.items).toHaveLength(40);
    expect(models.items.every((m) => m.latestVersion === 1)).toBe(true);
    const version = await registry.versions.latest(DEFAULT_PROJECT, models.items[0]?.name as string);
    expect(version).toMatchObject({ runtime: "skala.forecast", tags: { fleet: "parts", fleet_run: run.id } });
    expect(version.lineage).toMatchObject({ runId: run.id, sourceRef: "fleet:parts" });
    expect(version.lineage.datasetVersionId).toBe(run.datasetVersionId);
    expect(["ses", "theta", "tsb"]).toContain(version.params.candidate);
    expect(version.metrics.validation_wql).toBeGreaterThanOrEqual(0);
    const artifact = JSON.parse(
      (await registry.artifacts.read(version.artifact.digest as `sha256:${string}`)).toString(),
    );
    expect(artifact).toMatchObject({ format: "skala.forecast/v1", horizon: 12, period: 12 });

    const report = await fleets.service.report(DEFAULT_PROJECT, "parts", run.id);
    expect(report.segments).toMatchObject({ total: 41, registered: 40, failed: 1 });
    expect(Object.values(report.winners).reduce((a, b) => a + b, 0)).toBe(40);
    expect(report.failuresByReason).toEqual({ TOO_SHORT: 1 });
    expect(report.segments.passedGate + report.segments.flagged).toBe(40);
    const champions = await registry.versions.search(DEFAULT_PROJECT, {
      filter: "tags.fleet = 'parts' and status = 'ready'",
      limit: 1000,
    });
    expect(champions.items).toHaveLength(report.segments.passedGate);
    expect(champions.items.every((v) => v.aliases.includes("champion"))).toBe(true);
    const flagged = await registry.versions.search(DEFAULT_PROJECT, {
      filter: "tags.gate = 'failed'",
      limit: 1000,
    });
    expect(flagged.items.every((v) => v.status === "flagged" && v.aliases.length === 0)).toBe(true);

    const runRecord = await registry.runs.get(DEFAULT_PROJECT, run.id);
    expect(runRecord.status).toBe("finished");
    expect(runRecord.latestMetrics.mean_validation_wql).toBeGreaterThan(0);
    // Resources are counted with each chunk's segments, and no chunk needed a second attempt to record them.
    expect(report.resources.trainCpuSeconds).toBeGreaterThan(0);
    expect(report.resources.peakRssMb).toBeGreaterThan(0);
    const chunkJobs = await jobs.list({ groupId: run.id, kind: "fleet.chunk" });
    expect(chunkJobs.map((j) => [j.status, j.attempts])).toEqual(chunkJobs.map(() => ["succeeded", 1]));

    // The same spec over the same data is the same run: nothing is trained or registered again.
    const again = await submit(csv);
    expect(again).toMatchObject({ created: false, run: { id: run.id } });
    expect(
      (await registry.models.list(DEFAULT_PROJECT, { fleet: "parts", limit: 1000 })).items.every(
        (m) => m.latestVersion === 1,
      ),
    ).toBe(true);
  });

  it("scores a held-out tail and reports the pooled WQL", async () => {
    const { run } = await submit(carpartsSubset(12), "name: parts-holdout\nholdout: 12");
    await finished("parts-holdout", run.id);
    const report = await fleets.service.report(DEFAULT_PROJECT, "parts-holdout", run.id);
    expect(report.holdoutWql).toBeGreaterThan(0);
    expect(report.holdout.mase?.count).toBeGreaterThan(0);
  });

  it("registers nothing from an all-or-nothing run in which a segment fails", async () => {
    const { run } = await submit(
      carpartsSubset(15, "one,1,5\n"),
      "name: parts-atomic\noutput: { atomic: true }",
    );
    const progress = await finished("parts-atomic", run.id);
    expect(progress.run.status).toBe("failed");
    expect(progress.run.error).toMatch(/1 of 16 segments failed, nothing was registered/);
    expect((await registry.models.list(DEFAULT_PROJECT, { fleet: "parts-atomic" })).items).toHaveLength(0);

    const clean = await submit(carpartsSubset(15), "name: parts-atomic\noutput: { atomic: true }");
    expect((await finished("parts-atomic", clean.run.id)).run.status).toBe("succeeded");
    expect((await registry.models.list(DEFAULT_PROJECT, { fleet: "parts-atomic" })).items).toHaveLength(15);
  });

  it("rejects a malformed dataset with file, line and column before anything is written", async () => {
    const csv = `${carpartsSubset(2)}X,1,3\nX,2,abc\nX,2,4\n`;
    const error = await submit(csv, "name: parts-bad").then(
      () => undefined,
      (e: unknown) => e as SkalaError,
    );
    expect(error?.code).toBe("DATASET_INVALID");
    expect(JSON.stringify(error?.details)).toMatch(/"line":\d+,"column":3/);
    await expect(fleets.service.progress(DEFAULT_PROJECT, "parts-bad")).rejects.toMatchObject({
      code: "FLEET_NOT_FOUND",
    });
  });

  it.each(SUBMISSION_TABLES.filter((t) => t !== "datasets" && t !== "fleets"))(
    "a submission that fails at its write to %s leaves nothing, and submitting again starts a run that works",
    async (table) => {
      const name = `parts-crash-${table.replaceAll("_", "-")}`;
      // One series too short to train, so that the submission writes a failed segment too.
      const { digest } = await registry.artifacts.upload(Buffer.from(carpartsSubset(12, "short,1,3\n")));
      const before = await rowCounts(store, SUBMISSION_TABLES);
      const fault = await failWrites(store, table);
      try {
        await expect(submitUploaded(digest, `name: ${name}`)).rejects.toThrow(/injected failure/);
      } finally {
        await fault.remove();
      }
      expect(await rowCounts(store, SUBMISSION_TABLES)).toEqual(before);
      await expect(fleets.service.progress(DEFAULT_PROJECT, name)).rejects.toMatchObject({
        code: "FLEET_NOT_FOUND",
      });

      const again = await submitUploaded(digest, `name: ${name}`);
      expect(again.created).toBe(true);
      const progress = await finished(name, again.run.id);
      expect(progress).toMatchObject({ run: { status: "succeeded" }, registered: 12, failed: 1 });
      expect((await registry.datasets.versions(DEFAULT_PROJECT, name)).map((v) => v.version)).toEqual([1]);
    },
  );

  it("turns identical submissions at the same moment into one run with one set of jobs", async () => {
    const name = "parts-twice";
    const { digest } = await registry.artifacts.upload(Buffer.from(carpartsSubset(25)));
    const results = await Promise.all([1, 2, 3].map(() => submitUploaded(digest, `name: ${name}`)));
    expect(results.map((r) => r.created).sort()).toEqual([false, false, true]);
    const runId = results[0]?.run.id as string;
    expect(results.every((r) => r.run.id === runId)).toBe(true);
    expect((await jobs.list({ groupId: runId, kind: "fleet.chunk" })).map((j) => j.payload)).toHaveLength(3);
    expect((await registry.datasets.versions(DEFAULT_PROJECT, name)).map((v) => v.version)).toEqual([1]);
    const runs = await registry.runs.list(DEFAULT_PROJECT, { limit: 1000 });
    expect(runs.items.filter((r) => r.sourceRef === `fleet:${name}`).map((r) => r.id)).toEqual([runId]);
    expect((await finished(name, runId)).run.status).toBe("succeeded");
  });

  it("resumes the run that replaced a cancelled one instead of starting another each time", async () => {
    const name = "parts-resubmit";
    const { digest } = await registry.artifacts.upload(Buffer.from(carpartsSubset(30)));
    const first = await submitUploaded(digest, `name: ${name}`, 2);
    await fleets.service.cancel(DEFAULT_PROJECT, name, first.run.id);
    const second = await submitUploaded(digest, `name: ${name}`, 2);
    expect(second.created).toBe(true);
    expect(second.run.id).not.toBe(first.run.id);
    const third = await submitUploaded(digest, `name: ${name}`, 2);
    expect(third).toMatchObject({ created: false, run: { id: second.run.id } });
    await fleets.service.cancel(DEFAULT_PROJECT, name, second.run.id);
  });

  it("finishes a run in which every series failed to load at once, with its finalize job committed too", async () => {
    const name = "parts-nothing";
    const { run, created } = await submit(
      "series_id,period_index,value\na,1,3\nb,1,4\nb,2,5\n",
      `name: ${name}`,
    );
    expect(created).toBe(true);
    expect(run).toMatchObject({ status: "succeeded", total: 2 });
    expect(await fleets.service.progress(DEFAULT_PROJECT, name, run.id)).toMatchObject({
      done: 2,
      failed: 2,
    });
    expect((await registry.runs.get(DEFAULT_PROJECT, run.id)).status).toBe("finished");
    const [finalize] = await jobs.list({ groupId: run.id, kind: "fleet.finalize" });
    expect(finalize).toBeDefined();
    // Whoever runs it finds the run finished and changes nothing.
    expect(await fleets.runner.finalize({ runId: run.id })).toEqual({ status: "already finished" });
  });

  it("cancels a run: its queued jobs stop and it ends cancelled", async () => {
    const { run } = await submit(carpartsSubset(60), "name: parts-cancel", 2);
    const cancelled = await fleets.service.cancel(DEFAULT_PROJECT, "parts-cancel", run.id);
    expect(cancelled.status).toBe("cancelled");
    const progress = await finished("parts-cancel", run.id);
    expect(progress.run.status).toBe("cancelled");
    expect(progress.done).toBeLessThan(60);
  });
});
