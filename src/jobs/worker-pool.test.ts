import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { manualClock } from "../core/index.js";
import type { Store } from "../store/index.js";
import { freshStore, testDialects } from "../store/test-support/dialects.js";
import { JobQueue, PermanentJobError, WorkerPool } from "./index.js";

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const WAIT = { timeout: 3000, interval: 5 };

describe.each(testDialects())("WorkerPool on %s", (dialect) => {
  let store: Store;
  let dispose: () => Promise<void>;
  const clock = manualClock();
  let queue: JobQueue;
  const pools: WorkerPool[] = [];
  let seq = 0;
  const kindAndGroup = () => {
    seq += 1;
    return { kind: `pool-kind-${seq}`, group: `pool-group-${seq}` };
  };
  /** A pool that only wakes when told, so tests prove notify() rather than the poll timer. */
  const newPool = (options: Partial<ConstructorParameters<typeof WorkerPool>[0]> = {}) => {
    const pool = new WorkerPool({ queue, pollMs: 60_000, heartbeatMs: 5, leaseMs: 10_000, ...options });
    pools.push(pool);
    return pool;
  };

  beforeAll(async () => {
    ({ store, dispose } = await freshStore(dialect));
    queue = new JobQueue({ store, clock, backoff: { baseMs: 0, maxMs: 0 } });
  });
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.stop({ timeoutMs: 100, abort: true })));
  });
  afterAll(() => dispose());

  it("runs every job, never more than `concurrency` at once, and stores results", async () => {
    const { kind, group } = kindAndGroup();
    let active = 0;
    let peak = 0;
    const pool = newPool({ concurrency: 3 }).register<{ n: number }>(kind, async (job) => {
      active += 1;
      peak = Math.max(peak, active);
      await tick(5);
      active -= 1;
      return { double: job.payload.n * 2 };
    });
    pool.start();
    await queue.enqueue(Array.from({ length: 12 }, (_, n) => ({ kind, groupId: group, payload: { n } })));
    pool.notify();
    await vi.waitFor(async () => expect((await queue.progress(group)).counts.succeeded).toBe(12), WAIT);
    expect(peak).toBe(3);
    const jobs = await queue.list({ groupId: group });
    expect(jobs.map((j) => j.result)).toEqual(Array.from({ length: 12 }, (_, n) => ({ double: n * 2 })));
    expect(pool.active).toBe(0);
  });

  it("keeps the lease alive with heartbeats while a handler runs", async () => {
    const { kind } = kindAndGroup();
    const claimedAt = clock.now().getTime();
    const pool = newPool({ concurrency: 1, leaseMs: 1000 }).register(kind, async (job) => {
      clock.advance(5000); // far past the first lease: only heartbeats keep the job ours
      await vi.waitFor(async () => {
        const current = await queue.get(job.id);
        expect(Date.parse(current!.leaseExpiresAt!)).toBeGreaterThan(claimedAt + 5000);
      }, WAIT);
      expect(await queue.claim({ owner: "thief", kinds: [kind], limit: 1, leaseMs: 1000 })).toEqual([]);
      return "kept";
    });
    pool.start();
    const [job] = (await queue.enqueue([{ kind }])).jobs;
    pool.notify();
    await vi.waitFor(async () => expect((await queue.get(job!.id))?.status).toBe("succeeded"), WAIT);
    expect((await queue.get(job!.id))?.leaseOwner).toBe(pool.owner);
  });

  it("reports thrown errors as failures, retrying until max attempts", async () => {
    const { kind, group } = kindAndGroup();
    let calls = 0;
    const pool = newPool({ concurrency: 2 }).register(kind, async (job) => {
      calls += 1;
      if (job.payload === "permanent") throw new PermanentJobError("series is empty");
      throw new Error("always broken");
    });
    pool.start();
    const { jobs } = await queue.enqueue([
      { kind, groupId: group, maxAttempts: 2, payload: "transient" },
      { kind, groupId: group, maxAttempts: 5, payload: "permanent" },
    ]);
    pool.notify();
    await vi.waitFor(async () => expect((await queue.progress(group)).counts.failed).toBe(2), WAIT);
    expect(await queue.get(jobs[0]!.id)).toMatchObject({ attempts: 2, lastError: "Error: always broken" });
    expect(await queue.get(jobs[1]!.id)).toMatchObject({
      attempts: 1,
      lastError: "PermanentJobError: series is empty",
    });
    expect(calls).toBe(3);
  });

  it("aborts a running handler when its job is cancelled, and does not mark it failed", async () => {
    const { kind, group } = kindAndGroup();
    let started = false;
    let abortedWith: unknown;
    const pool = newPool({ concurrency: 1 }).register(kind, (_job, { signal }) => {
      started = true;
      return new Promise((_resolve, reject) => {
        signal.addEventListener("abort", () => {
          abortedWith = signal.reason;
          reject(signal.reason);
        });
      });
    });
    pool.start();
    const [job] = (await queue.enqueue([{ kind, groupId: group }])).jobs;
    pool.notify();
    await vi.waitFor(() => expect(started).toBe(true), WAIT);
    expect(await queue.cancelGroup(group)).toBe(1);
    await vi.waitFor(() => expect(pool.active).toBe(0), WAIT);
    expect(String(abortedWith)).toMatch(/no longer held/);
    expect(await queue.get(job!.id)).toMatchObject({ status: "cancelled", lastError: null });
  });

  it("waits for running handlers on stop, and gives back jobs it abandons", async () => {
    const { kind } = kindAndGroup();
    let finish: (() => void) | undefined;
    const pool = newPool({ concurrency: 2 }).register(kind, async (job) => {
      if (job.payload === "quick") {
        await new Promise<void>((resolve) => {
          finish = resolve;
        });
        return "finished";
      }
      return new Promise(() => {}); // never settles: stop must not wait for it forever
    });
    pool.start();
    const { jobs } = await queue.enqueue([
      { kind, payload: "quick" },
      { kind, payload: "stuck" },
    ]);
    pool.notify();
    await vi.waitFor(() => expect(pool.active).toBe(2), WAIT);
    const stopped = pool.stop({ timeoutMs: 30 });
    finish?.();
    await stopped;
    expect(await queue.get(jobs[0]!.id)).toMatchObject({ status: "succeeded", result: "finished" });
    expect(await queue.get(jobs[1]!.id)).toMatchObject({ status: "queued", attempts: 0, leaseOwner: null });
    expect(pool.active).toBe(0);
  });

  it("aborts handlers at once on stop({ abort: true }) and gives their jobs back without using an attempt", async () => {
    const { kind } = kindAndGroup();
    const pool = newPool({ concurrency: 1 }).register(
      kind,
      (_job, { signal }) =>
        new Promise((_resolve, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
    );
    pool.start();
    const [job] = (await queue.enqueue([{ kind }])).jobs;
    pool.notify();
    await vi.waitFor(() => expect(pool.active).toBe(1), WAIT);
    await pool.stop({ abort: true, timeoutMs: 2000 });
    expect(await queue.get(job!.id)).toMatchObject({ status: "queued", attempts: 0, lastError: null });
  });

  it("reports queue errors to onError, and to stderr by default, and keeps polling", async () => {
    const broken = await freshStore(dialect);
    const brokenQueue = new JobQueue({ store: broken.store, clock });
    await broken.dispose(); // every claim fails from now on
    const errors: unknown[] = [];
    const pool = newPool({ queue: brokenQueue, pollMs: 5, onError: (error) => errors.push(error) });
    pool.register("anything", async () => null).start();
    await vi.waitFor(() => expect(errors.length).toBeGreaterThanOrEqual(2), WAIT);
    expect(errors[0]).toBeInstanceOf(Error);

    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const silent = newPool({ queue: brokenQueue, pollMs: 5 });
      silent.register("anything", async () => null).start();
      await vi.waitFor(() => expect(written.join("")).toMatch(/^skala worker pool: .*Error/m), WAIT);
      await silent.stop({ timeoutMs: 100 });
    } finally {
      spy.mockRestore();
    }
  });

  it("finds work by polling when nobody calls notify()", async () => {
    const { kind } = kindAndGroup();
    const pool = newPool({ pollMs: 10 }).register(kind, async () => "polled");
    pool.start();
    const [job] = (await queue.enqueue([{ kind }])).jobs;
    await vi.waitFor(async () => expect((await queue.get(job!.id))?.status).toBe("succeeded"), WAIT);
  });
});
