import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BlobStore, createMemoryBlobStore } from "../artifacts/index.js";
import { systemClock } from "../core/index.js";
import { migrateToLatest, openStore, type Store } from "../store/index.js";
import { freshStore, testDialects } from "../store/test-support/dialects.js";
import { createRegistry, type Registry } from "./index.js";
import { ARTIFACT_WRITE_CONCURRENCY } from "./version.service.js";

const P = "default";
const LIMITS = { bulkMaxVersions: 10_000, pageSizeMax: 1_000, artifactMaxBytes: 1 << 20 };

/** Rejects when `promise` takes longer than `ms`: what waiting behind a write transaction looks like. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe("reads on a file-backed SQLite store", () => {
  let dir: string;
  let store: Store;
  let registry: Registry;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "skala-read-connection-"));
    store = openStore(`sqlite:${join(dir, "skala.db")}`);
    await migrateToLatest(store);
    registry = createRegistry({ store, blobs: createMemoryBlobStore(), clock: systemClock, limits: LIMITS });
    await registry.projects.ensure(P);
    await registry.versions.bulkRegister(P, {
      versions: [{ model: "pump", runtime: "onnx", artifact: { json: 1 }, aliases: ["champion"] }],
    });
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("answer from their own connection while a bulk registration holds the write transaction open", async () => {
    expect(store.readDb).not.toBe(store.db);
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const writing = registry.versions.bulkRegister(
      P,
      { versions: [{ model: "pump", runtime: "onnx", artifact: { json: 2 }, aliases: ["champion"] }] },
      {
        inTransaction: async () => {
          entered();
          await held;
        },
      },
    );
    try {
      await inside;
      const [model, version, champion, found, located, models] = await within(
        Promise.all([
          registry.models.get(P, "pump"),
          registry.versions.get(P, "pump", 1),
          registry.versions.resolve(P, "pump@champion"),
          registry.versions.search(P, { filter: "version = 1" }),
          registry.versions.locate(P, "pump", undefined, "champion"),
          registry.models.list(P),
        ]),
        5_000,
        "reading during the write transaction",
      );
      // What was committed, never what the open transaction wrote.
      expect(model.latestVersion).toBe(1);
      expect(version.version).toBe(1);
      expect(champion.version).toBe(1);
      expect(found.items.map((v) => v.version)).toEqual([1]);
      expect(located?.version).toBe(1);
      expect(models.items.map((m) => m.name)).toEqual(["pump"]);
    } finally {
      release();
    }
    await writing;
    // A committed write is visible to the next read on the read connection.
    expect((await registry.versions.resolve(P, "pump@champion")).version).toBe(2);
    expect((await registry.models.get(P, "pump")).latestVersion).toBe(2);
  });

  it("serve runs, datasets and deployments from the read connection while a bulk registration writes", async () => {
    const run = await registry.runs.create(P, { name: "train", params: { method: "ets" } });
    await registry.runs.logMetrics(P, run.id, { metrics: [{ key: "mase", value: 0.8, step: 0 }] });
    const csv = await registry.artifacts.upload(new TextEncoder().encode("segment,y\nA,1\nB,2\n"));
    await registry.datasets.registerVersion(P, "sales", { digest: csv.digest });
    await registry.deployments.set(P, "dev", "pump", { routes: [{ target: "champion", weight: 100 }] });
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const writing = registry.versions.bulkRegister(
      P,
      { versions: [{ model: "pump", runtime: "onnx", artifact: { json: 3 } }] },
      {
        inTransaction: async () => {
          entered();
          await held;
        },
      },
    );
    try {
      await inside;
      const [got, runs, history, datasets, versions, version, deployment, found, deployments] = await within(
        Promise.all([
          registry.runs.get(P, run.id),
          registry.runs.list(P),
          registry.runs.metricHistory(P, run.id, "mase"),
          registry.datasets.list(P),
          registry.datasets.versions(P, "sales"),
          registry.datasets.version(P, "sales", 1),
          registry.deployments.get(P, "dev", "pump"),
          registry.deployments.find(P, "dev", "pump"),
          registry.deployments.list(P, "dev"),
        ]),
        5_000,
        "reading runs, datasets and deployments during the write transaction",
      );
      expect(got.params).toEqual({ method: "ets" });
      expect(runs.items.map((r) => r.id)).toEqual([run.id]);
      expect(history.map((m) => m.value)).toEqual([0.8]);
      expect(datasets.map((d) => d.name)).toEqual(["sales"]);
      expect(versions.map((v) => v.version)).toEqual([1]);
      expect(version.rows).toBe(2);
      expect(deployment.routes).toEqual([{ target: "champion", weight: 100 }]);
      expect(found?.model).toBe("pump");
      expect(deployments.map((d) => d.model)).toEqual(["pump"]);
    } finally {
      release();
    }
    await writing;
  });

  it("share one connection when the database is in memory, which a second connection could not see", async () => {
    const memory = openStore("sqlite::memory:");
    try {
      expect(memory.readDb).toBe(memory.db);
    } finally {
      await memory.close();
    }
  });
});

describe.each(testDialects())("bulk registration on %s", (dialect) => {
  let dispose: () => Promise<void>;
  let registry: Registry;
  const writes = { active: 0, peak: 0, total: 0 };

  beforeAll(async () => {
    const fresh = await freshStore(dialect);
    dispose = fresh.dispose;
    const memory = createMemoryBlobStore();
    // The real store underneath; each put is held a moment so that unbounded writes would all overlap.
    const counting: BlobStore = {
      ...memory,
      async put(source, options) {
        writes.active++;
        writes.total++;
        writes.peak = Math.max(writes.peak, writes.active);
        try {
          await sleep(5);
          return await memory.put(source, options);
        } finally {
          writes.active--;
        }
      },
    };
    registry = createRegistry({ store: fresh.store, blobs: counting, clock: systemClock, limits: LIMITS });
    await registry.projects.ensure(P);
  });
  afterAll(() => dispose());

  it(`writes at most ${ARTIFACT_WRITE_CONCURRENCY} inline artifacts at once`, async () => {
    const versions = Array.from({ length: 60 }, (_, i) => ({
      model: `part-${i}`,
      runtime: "onnx",
      artifact: { json: { weights: i } },
    }));
    const registered = await registry.versions.bulkRegister(P, { versions });
    expect(registered).toHaveLength(60);
    expect(writes.total).toBe(60);
    expect(writes.peak).toBe(ARTIFACT_WRITE_CONCURRENCY);
    expect(writes.active).toBe(0);
    const stored = await registry.versions.get(P, "part-59", 1);
    expect(
      JSON.parse((await registry.artifacts.read(stored.artifact.digest as `sha256:${string}`)).toString()),
    ).toEqual({
      weights: 59,
    });
  });
});
