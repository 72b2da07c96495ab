import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { manualClock, SkalaError } from "../core/index.js";
import { openStore, type Store } from "../store/index.js";
import { freshStore, testDialects } from "../store/test-support/dialects.js";
import { backoffDelayMs, JobQueue } from "./index.js";

const LEASE = 10_000;

describe("backoffDelayMs", () => {
  it("doubles per attempt, caps, and jitters within the upper half", () => {
    const options = { baseMs: 1000, maxMs: 5000 };
    expect(backoffDelayMs(1, options, () => 0)).toBe(500);
    expect(backoffDelayMs(1, options, () => 0.999999)).toBe(1000);
    expect(backoffDelayMs(3, options, () => 0.5)).toBe(3000);
    expect(backoffDelayMs(10, options, () => 1)).toBe(5000);
  });
});

describe.each(testDialects())("JobQueue on %s", (dialect) => {
  let store: Store;
  let url: string;
  let dispose: () => Promise<void>;
  const clock = manualClock();
  let queue: JobQueue;
  let groupSeq = 0;
  /** Each test works in its own group and kind so that tests sharing the store do not see each other's jobs. */
  const fresh = () => {
    groupSeq += 1;
    return { group: `grp-${groupSeq}`, kind: `kind-${groupSeq}` };
  };

  beforeAll(async () => {
    const created = await freshStore(dialect);
    ({ store, url, dispose } = created);
    queue = new JobQueue({ store, clock, backoff: { baseMs: 1000, maxMs: 60_000 }, random: () => 0.5 });
  });
  afterAll(() => dispose());

  it("enqueues idempotently by key, within a batch and across calls", async () => {
    const { group, kind } = fresh();
    const first = await queue.enqueue([
      { kind, groupId: group, idempotencyKey: `${group}:a`, payload: { n: 1 } },
      { kind, groupId: group, idempotencyKey: `${group}:b`, payload: { n: 2 } },
      { kind, groupId: group, idempotencyKey: `${group}:a`, payload: { n: 99 } },
      { kind, groupId: group, payload: { n: 3 } },
    ]);
    expect(first.created).toBe(3);
    expect(first.jobs).toHaveLength(4);
    expect(first.jobs[2]?.id).toBe(first.jobs[0]?.id);
    expect(first.jobs[0]).toMatchObject({ status: "queued", attempts: 0, maxAttempts: 3, payload: { n: 1 } });

    const again = await queue.enqueue([
      { kind, groupId: group, idempotencyKey: `${group}:b`, payload: { n: 20 } },
      { kind, groupId: group, idempotencyKey: `${group}:c`, payload: { n: 4 } },
    ]);
    expect(again.created).toBe(1);
    expect(again.jobs[0]?.id).toBe(first.jobs[1]?.id);
    expect(again.jobs[0]?.payload).toEqual({ n: 2 });
    expect((await queue.progress(group)).total).toBe(4);
  });

  it("returns the existing job whatever its status", async () => {
    const { group, kind } = fresh();
    const key = `${group}:done`;
    const [job] = (await queue.enqueue([{ kind, groupId: group, idempotencyKey: key }])).jobs;
    await queue.claim({ owner: "w", kinds: [kind], limit: 1, leaseMs: LEASE });
    expect(await queue.complete(job!.id, "w", { ok: true })).toBe(true);
    const again = await queue.enqueue([{ kind, groupId: group, idempotencyKey: key }]);
    expect(again.created).toBe(0);
    expect(again.jobs[0]).toMatchObject({ id: job!.id, status: "succeeded", result: { ok: true } });
  });

  it("refuses invalid input with every problem listed", async () => {
    const error = await queue.enqueue([{ kind: "", maxAttempts: 0 }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SkalaError);
    expect((error as SkalaError).code).toBe("VALIDATION_FAILED");
    expect((error as SkalaError).details?.issues).toHaveLength(2);
  });

  it("never gives one job to two concurrent claimers", async () => {
    const { kind } = fresh();
    await queue.enqueue(Array.from({ length: 60 }, (_, i) => ({ kind, payload: i })));
    const batches = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        queue.claim({ owner: `w${i}`, kinds: [kind], limit: 7, leaseMs: LEASE }),
      ),
    );
    const rest = await queue.claim({ owner: "late", kinds: [kind], limit: 100, leaseMs: LEASE });
    const ids = [...batches.flat(), ...rest].map((j) => j.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(60);
    for (const [i, batch] of batches.entries()) {
      for (const job of batch)
        expect(job).toMatchObject({ status: "running", leaseOwner: `w${i}`, attempts: 1 });
    }
  });

  it.runIf(dialect === "postgres")("never gives one job to claimers on separate connections", async () => {
    const { kind } = fresh();
    const other = openStore(url);
    try {
      const otherQueue = new JobQueue({ store: other, clock });
      await queue.enqueue(Array.from({ length: 200 }, (_, i) => ({ kind, payload: i })));
      const claimed: string[] = [];
      for (let round = 0; round < 20; round++) {
        const batches = await Promise.all(
          [queue, otherQueue, queue, otherQueue].map((q, i) =>
            q.claim({ owner: `c${i}`, kinds: [kind], limit: 5, leaseMs: LEASE }),
          ),
        );
        claimed.push(...batches.flat().map((j) => j.id));
      }
      expect(new Set(claimed).size).toBe(claimed.length);
      expect(claimed).toHaveLength(200);
    } finally {
      await other.close();
    }
  });

  it("claims only due jobs of the asked kinds, oldest first", async () => {
    const { kind } = fresh();
    const other = `${kind}-other`;
    const later = new Date(clock.now().getTime() + 5000);
    await queue.enqueue([
      { kind, payload: "later", runAfter: later },
      { kind, payload: "now" },
      { kind: other, payload: "other" },
    ]);
    const first = await queue.claim({ owner: "w", kinds: [kind], limit: 10, leaseMs: LEASE });
    expect(first.map((j) => j.payload)).toEqual(["now"]);
    clock.advance(5000);
    const second = await queue.claim({ owner: "w", kinds: [kind], limit: 10, leaseMs: LEASE });
    expect(second.map((j) => j.payload)).toEqual(["later"]);
    expect(await queue.claim({ owner: "w", kinds: [], limit: 10, leaseMs: LEASE })).toEqual([]);
    const rest = await queue.claim({ owner: "w", kinds: [other], limit: 10, leaseMs: LEASE });
    expect(rest.map((j) => j.payload)).toEqual(["other"]);
  });

  it("lets another owner reclaim a job whose worker stopped heartbeating, and fences the old owner", async () => {
    const { kind } = fresh();
    const [job] = (await queue.enqueue([{ kind }])).jobs;
    const [a] = await queue.claim({ owner: "a", kinds: [kind], limit: 1, leaseMs: 1000 });
    expect(a?.id).toBe(job!.id);
    expect(await queue.claim({ owner: "b", kinds: [kind], limit: 1, leaseMs: 1000 })).toEqual([]);

    clock.advance(600);
    expect(await queue.heartbeat(job!.id, "a", 1000)).toBe(true);
    clock.advance(600);
    // The heartbeat moved the lease: still a's.
    expect(await queue.claim({ owner: "b", kinds: [kind], limit: 1, leaseMs: 1000 })).toEqual([]);

    clock.advance(1000); // a "crashed": no heartbeat for a whole lease
    const [b] = await queue.claim({ owner: "b", kinds: [kind], limit: 1, leaseMs: 1000 });
    expect(b).toMatchObject({ id: job!.id, leaseOwner: "b", attempts: 2 });

    expect(await queue.heartbeat(job!.id, "a", 1000)).toBe(false);
    expect(await queue.complete(job!.id, "a", { from: "a" })).toBe(false);
    expect(await queue.fail(job!.id, "a", new Error("late"))).toBe(false);
    expect(await queue.complete(job!.id, "b", { from: "b" })).toBe(true);
    expect(await queue.get(job!.id)).toMatchObject({
      status: "succeeded",
      result: { from: "b" },
      lastError: null,
    });
    expect(await queue.complete(job!.id, "b", { twice: true })).toBe(false);
  });

  it("fails a job whose lease expired on its last attempt", async () => {
    const { kind } = fresh();
    const [job] = (await queue.enqueue([{ kind, maxAttempts: 1 }])).jobs;
    await queue.claim({ owner: "a", kinds: [kind], limit: 1, leaseMs: 1000 });
    clock.advance(1001);
    expect(await queue.claim({ owner: "b", kinds: [kind], limit: 1, leaseMs: 1000 })).toEqual([]);
    expect(await queue.get(job!.id)).toMatchObject({
      status: "failed",
      lastError: expect.stringMatching(/lease/),
    });
  });

  it("retries with exponential backoff, then fails after max attempts", async () => {
    const { kind } = fresh();
    const [job] = (await queue.enqueue([{ kind, maxAttempts: 3 }])).jobs;
    const id = job!.id;
    const claim = () => queue.claim({ owner: "w", kinds: [kind], limit: 1, leaseMs: LEASE });

    await claim();
    expect(await queue.fail(id, "w", new Error("boom 1"))).toBe(true);
    let stored = await queue.get(id);
    // attempt 1: 1000 ms exponential, half fixed plus half × 0.5 jitter
    expect(stored).toMatchObject({
      status: "queued",
      attempts: 1,
      lastError: "Error: boom 1",
      leaseOwner: null,
    });
    expect(Date.parse(stored!.runAfter) - clock.now().getTime()).toBe(750);
    expect(await claim()).toEqual([]);
    clock.advance(750);

    expect((await claim())[0]?.attempts).toBe(2);
    await queue.fail(id, "w", "boom 2");
    stored = await queue.get(id);
    expect(Date.parse(stored!.runAfter) - clock.now().getTime()).toBe(1500);
    clock.advance(1500);

    expect((await claim())[0]?.attempts).toBe(3);
    await queue.fail(id, "w", new TypeError("boom 3"));
    stored = await queue.get(id);
    expect(stored).toMatchObject({ status: "failed", attempts: 3, lastError: "TypeError: boom 3" });
    expect(stored?.finishedAt).toBe(clock.now().toISOString());
    clock.advance(100_000);
    expect(await claim()).toEqual([]);
  });

  it("fails at once when the error is not retryable, and gives back attempts on release", async () => {
    const { kind } = fresh();
    const [a, b] = (await queue.enqueue([{ kind }, { kind }])).jobs;
    await queue.claim({ owner: "w", kinds: [kind], limit: 2, leaseMs: LEASE });
    await queue.fail(a!.id, "w", new Error("bad data"), { retryable: false });
    expect(await queue.get(a!.id)).toMatchObject({ status: "failed", attempts: 1 });
    expect(await queue.release(b!.id, "w")).toBe(true);
    expect(await queue.get(b!.id)).toMatchObject({ status: "queued", attempts: 0, leaseOwner: null });
    expect(
      (await queue.claim({ owner: "x", kinds: [kind], limit: 2, leaseMs: LEASE })).map((j) => j.id),
    ).toEqual([b!.id]);
  });

  it("cancels a group's queued and running jobs and leaves others alone", async () => {
    const { group, kind } = fresh();
    const other = fresh();
    const { jobs } = await queue.enqueue([
      { kind, groupId: group },
      { kind, groupId: group },
      { kind, groupId: group },
      { kind, groupId: other.group },
    ]);
    const [running] = await queue.claim({ owner: "w", kinds: [kind], limit: 1, leaseMs: LEASE });
    await queue.complete(running!.id, "w");
    const [stillRunning] = await queue.claim({ owner: "w", kinds: [kind], limit: 1, leaseMs: LEASE });

    expect(await queue.cancelGroup(group)).toBe(2);
    expect(await queue.heartbeat(stillRunning!.id, "w", LEASE)).toBe(false);
    expect(await queue.complete(stillRunning!.id, "w")).toBe(false);
    const claimable = await queue.claim({ owner: "w", kinds: [kind], limit: 10, leaseMs: LEASE });
    expect(claimable.map((j) => j.id)).toEqual([jobs[3]!.id]);
    const statuses = (await queue.list({ groupId: group })).map((j) => j.status);
    expect(statuses.sort()).toEqual(["cancelled", "cancelled", "succeeded"]);
    expect(await queue.cancel(jobs[3]!.id)).toBe(true);
    expect(await queue.cancel(jobs[3]!.id)).toBe(false);
  });

  it("reports progress with counts, rate and ETA", async () => {
    const { group, kind } = fresh();
    await queue.enqueue(Array.from({ length: 6 }, () => ({ kind, groupId: group })));
    let progress = await queue.progress(group);
    expect(progress).toMatchObject({ total: 6, done: 0, ratePerSecond: null, etaSeconds: null });
    expect(progress.counts).toEqual({ queued: 6, running: 0, succeeded: 0, failed: 0, cancelled: 0 });

    const claimed = await queue.claim({ owner: "w", kinds: [kind], limit: 3, leaseMs: LEASE });
    clock.advance(2000);
    await queue.complete(claimed[0]!.id, "w", 1);
    await queue.fail(claimed[1]!.id, "w", "bad", { retryable: false });
    progress = await queue.progress(group);
    expect(progress.counts).toEqual({ queued: 3, running: 1, succeeded: 1, failed: 1, cancelled: 0 });
    expect(progress).toMatchObject({ total: 6, done: 2, ratePerSecond: 1, etaSeconds: 4 });
    expect(progress.firstStartedAt).toBe(claimed[0]!.startedAt);

    await queue.cancelGroup(group);
    progress = await queue.progress(group);
    expect(progress).toMatchObject({ done: 6, etaSeconds: 0 });
    expect((await queue.progress("no-such-group")).total).toBe(0);
  });

  it("lists by group, kind and status, oldest first, and gets by id", async () => {
    const { group, kind } = fresh();
    const { jobs } = await queue.enqueue([
      { kind, groupId: group },
      { kind, groupId: group },
    ]);
    await queue.claim({ owner: "w", kinds: [kind], limit: 1, leaseMs: LEASE });
    expect((await queue.list({ groupId: group })).map((j) => j.id)).toEqual(jobs.map((j) => j.id));
    expect((await queue.list({ kind, status: "queued" })).map((j) => j.id)).toEqual([jobs[1]!.id]);
    expect(await queue.list({ groupId: group, limit: 1 })).toHaveLength(1);
    expect(await queue.get("job_missing")).toBeUndefined();
  });
});
