import { afterEach, describe, expect, it } from "vitest";
import { createMemoryBlobStore } from "../src/artifacts/index.js";
import { manualClock } from "../src/core/index.js";
import { JobQueue } from "../src/jobs/index.js";
import { listPredictions } from "../src/monitoring/index.js";
import { createRegistry } from "../src/registry/index.js";
import { migrateTo, migrateToLatest, migrationNames } from "../src/store/migrations.js";
import { freshStore, testDialects } from "../src/store/test-support/dialects.js";
import { seedsUpTo, writeSeeds } from "../src/store/test-support/upgrade-fixture.js";

/**
 * A database written by an earlier release, upgraded in place, read by today's services: src/store's upgrade
 * tests check the rows, these that the code reads them as the data they were (src/store may import no service).
 */
describe.each(testDialects())("services over a database upgraded on %s", (dialect) => {
  let dispose: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await dispose?.();
    dispose = undefined;
  });

  it.each(migrationNames(dialect).slice(0, -1))("read what was written at %s", async (from) => {
    const fresh = await freshStore(dialect, { migrated: false });
    dispose = fresh.dispose;
    const { store } = fresh;
    await migrateTo(store, from);
    await writeSeeds(store.db, seedsUpTo(from));
    await migrateToLatest(store);

    const clock = manualClock(new Date("2025-01-01T00:00:00Z"));
    const registry = createRegistry({
      store,
      blobs: createMemoryBlobStore({ clock }),
      clock,
      limits: { bulkMaxVersions: 10, pageSizeMax: 100, artifactMaxBytes: 1 << 20 },
    });
    expect((await registry.projects.get("acme")).environments).toEqual(["dev", "test", "prod"]);
    expect(await registry.models.get("acme", "part-A12")).toMatchObject({
      fleet: "carparts",
      latestVersion: 2,
      tags: { family: "brakes", "my key": "x = 'y'" },
    });
    expect((await registry.models.get("acme", "retired")).archived).toBe(true);
    const first = await registry.versions.get("acme", "part-A12", 1);
    expect(first).toMatchObject({
      id: "ver_1",
      runtime: "skala.forecast",
      artifact: { digest: `sha256:${"a".repeat(64)}`, size: 2_147_483_647 },
      signature: { inputs: [{ name: "x", datatype: "FP32", shape: [-1, 16] }] },
      params: { alpha: "0.2" },
      metrics: { mase: 0.8200000000000001, bias: -123456.789 },
      tags: { segment: "A12" },
      aliases: ["challenger"],
      lineage: { runId: "run_1", datasetVersionId: "dsv_1", parentVersionId: null, sourceRef: "git:abc123" },
    });
    expect(await registry.versions.get("acme", "part-A12", "champion")).toMatchObject({
      id: "ver_2",
      status: "flagged",
      tags: { segment: "A12", "quote'key": "it's" },
      lineage: { parentVersionId: "ver_1" },
    });
    expect(
      (await registry.versions.aliasHistory("acme", "part-A12")).map((h) => [h.fromVersion, h.toVersion]),
    ).toEqual([
      [1, 2],
      [null, 1],
    ]);
    const search = await registry.versions.search("acme", {
      filter: 'metrics.mase < 0.5 and tags.segment = "A12"',
    });
    expect(search.items.map((v) => v.id)).toEqual(["ver_2"]);
    expect(await registry.runs.get("acme", "run_1")).toMatchObject({
      status: "finished",
      params: { method: "ets" },
      latestMetrics: { loss: -1e-300 },
      artifacts: [{ name: "plots/loss.png", size: 42 }],
    });
    expect((await registry.runs.metricHistory("acme", "run_1", "loss")).map((m) => m.value)).toEqual([
      3.25, -1e-300,
    ]);
    expect(await registry.datasets.version("acme", "demand", 1)).toMatchObject({
      id: "dsv_1",
      rows: 136_374,
    });

    if (from >= "0002_jobs") {
      const jobs = new JobQueue({ store, clock });
      expect(await jobs.get("job_1")).toMatchObject({
        status: "succeeded",
        payload: { runId: "run_2", chunk: 0 },
        result: { trained: 50 },
        progress: null,
      });
      expect(await jobs.progress("run_2")).toMatchObject({ total: 2 });
    }
    if (from >= "0004_serving") {
      expect(await registry.deployments.get("acme", "prod", "part-A12")).toMatchObject({
        routes: [
          { target: "champion", weight: 90 },
          { target: "1", weight: 10 },
        ],
        shadow: "challenger",
        pinned: true,
      });
      const [logged] = await listPredictions(store.db, { project: "acme", model: "part-A12", limit: 10 });
      expect(logged).toMatchObject({
        version: 2,
        route: "champion",
        error: "shape mismatch",
        latencyMs: 0.125,
      });
    }
  });
});
