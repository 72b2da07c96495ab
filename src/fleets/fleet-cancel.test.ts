import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryBlobStore } from "../artifacts/index.js";
import { systemClock } from "../core/index.js";
import { JobQueue, WorkerPool } from "../jobs/index.js";
import { createRegistry, DEFAULT_PROJECT, type Registry } from "../registry/index.js";
import { freshStore } from "../store/test-support/dialects.js";
import { settingsFromSpec } from "./fleet-settings.js";
import { parseFleetSpec, toSegmentPlan } from "./fleet-spec.js";
import { createFleets, type Fleets } from "./fleets.js";

const CARPARTS = new URL("../../examples/carparts/carparts.csv", import.meta.url);

/** Automatic ETS with many rolling origins: a 40-segment chunk trains for many seconds. */
const SPEC = `
name: slow-parts
dataset: { path: data.csv, na: zero }
frequency: monthly
horizon: 6
candidates:
  - { method: ets, distribution: negbin }
  - { method: hw-additive, params: { damped: true }, distribution: negbin }
validation: { scheme: rolling, origins: 6, size: 3, step: 3 }
selection: { metric: mase }
gate: { baseline: { method: snaive, distribution: negbin }, metric: mase, minImprovementPct: 0 }
`;

describe("cancelling a fleet mid-chunk", () => {
  let registry: Registry;
  let fleets: Fleets;
  let pool: WorkerPool;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    const fresh = await freshStore("sqlite");
    registry = createRegistry({
      store: fresh.store,
      blobs: createMemoryBlobStore(),
      clock: systemClock,
      limits: { bulkMaxVersions: 10_000, pageSizeMax: 1_000, artifactMaxBytes: 64 << 20 },
    });
    await registry.projects.ensure(DEFAULT_PROJECT);
    const jobs = new JobQueue({ store: fresh.store, clock: systemClock });
    fleets = createFleets({ store: fresh.store, registry, jobs, clock: systemClock, trainingThreads: 1 });
    // Short leases, so the worker notices the cancellation within a heartbeat (200 ms).
    pool = new WorkerPool({ queue: jobs, concurrency: 1, pollMs: 20, leaseMs: 600 });
    fleets.attach(pool);
    pool.start();
    dispose = async () => {
      await pool.stop({ timeoutMs: 5_000 });
      await fleets.close();
      await fresh.dispose();
    };
  });
  afterAll(() => dispose());

  it("terminates the training thread: the chunk's job ends within a heartbeat, not when training would", async () => {
    const lines = readFileSync(CARPARTS, "utf8").trim().split("\n");
    const ids = [...new Set(lines.slice(1).map((line) => line.slice(0, line.indexOf(","))))].slice(0, 40);
    const csv = [
      lines[0],
      ...lines.slice(1).filter((line) => ids.includes(line.slice(0, line.indexOf(",")))),
    ];
    const spec = parseFleetSpec(SPEC, { baseDir: "/tmp" });
    const { digest } = await registry.artifacts.upload(Buffer.from(`${csv.join("\n")}\n`));
    const { run } = await fleets.service.submit(DEFAULT_PROJECT, {
      settings: settingsFromSpec(spec, 40),
      plan: toSegmentPlan(spec),
      datasetDigest: digest,
    });
    // Wait until the chunk trains on the thread, then a little longer.
    for (let i = 0; i < 500 && fleets.training.liveThreads().length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(pool.active).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const threadBefore = fleets.training.liveThreads()[0]?.threadId;
    // Series the loader rejected (too short) are recorded at submission; the chunk itself recorded nothing yet.
    const doneBefore = (await fleets.service.progress(DEFAULT_PROJECT, "slow-parts", run.id)).done;

    const cancelledAt = Date.now();
    await fleets.service.cancel(DEFAULT_PROJECT, "slow-parts", run.id);
    for (let i = 0; i < 300 && pool.active > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));

    expect(pool.active).toBe(0);
    expect(Date.now() - cancelledAt).toBeLessThan(2_000);
    const progress = await fleets.service.progress(DEFAULT_PROJECT, "slow-parts", run.id);
    expect(progress.run.status).toBe("cancelled");
    expect(progress.done).toBe(doneBefore);
    // The thread that trained the chunk is gone; its replacement is a new one.
    for (let i = 0; i < 300 && fleets.training.liveThreads()[0]?.threadId === threadBefore; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(fleets.training.liveThreads()[0]?.threadId).not.toBe(threadBefore);
  });
});
