import { afterEach, describe, expect, it } from "vitest";
import { WQL_LEVELS } from "../forecasting/index.js";
import type { SegmentPlan } from "./segment-plan.js";
import { TrainingPool, TrainingPoolClosedError, type TrainingTask } from "./training-pool.js";

const QUICK: SegmentPlan = {
  horizon: 6,
  period: 12,
  candidates: [{ name: "snaive", spec: { method: "snaive" }, distribution: "auto" }],
  validation: { scheme: "holdout", size: 6 },
  selectionMetric: "mae",
  gate: {
    baseline: { name: "naive", spec: { method: "naive" }, distribution: "auto" },
    metric: "mae",
    minImprovementPct: 0,
  },
  quantiles: [...WQL_LEVELS],
  holdout: 0,
  minLength: 14,
};

/** Automatic ETS with rolling validation over long series: seconds of CPU per task. */
const SLOW: SegmentPlan = {
  ...QUICK,
  candidates: [{ name: "ets", spec: { method: "ets", model: "ZZZ" }, distribution: "auto" }],
  validation: { scheme: "rolling", origins: 8, size: 6, step: 6 },
};

const series = (n: number, seed: number) =>
  Float64Array.from({ length: n }, (_, i) => 50 + 10 * Math.sin((2 * Math.PI * i) / 12) + ((i * seed) % 7));
const task = (plan: SegmentPlan, count: number, length = 48): TrainingTask => ({
  plan,
  segments: Array.from({ length: count }, (_, i) => ({ seriesId: `s${i}`, values: series(length, i + 1) })),
});
/** A task that throws inside the thread (no plan): a thread-side failure, as a bug in a method would be. */
const POISON = {
  plan: null,
  segments: [{ seriesId: "x", values: series(48, 1) }],
} as unknown as TrainingTask;

const settle = <T>(promise: Promise<T>) =>
  promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error: error as Error }),
  );

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error(`timed out waiting until ${what}`);
}

describe("TrainingPool", () => {
  let pool: TrainingPool;
  afterEach(() => pool.close());

  it("starts no thread before the first task, then trains every segment in order", async () => {
    pool = new TrainingPool({ threads: 2 });
    expect(pool.liveThreads()).toHaveLength(0);
    const outcomes = await pool.train(task(QUICK, 5));
    expect(outcomes.map((o) => [o.seriesId, o.ok])).toEqual([
      ["s0", true],
      ["s1", true],
      ["s2", true],
      ["s3", true],
      ["s4", true],
    ]);
    expect(pool.liveThreads()).toHaveLength(2);
  });

  it("keeps its size when tasks fail inside the threads, ten times over", async () => {
    pool = new TrainingPool({ threads: 2 });
    for (let i = 0; i < 10; i++) {
      const failed = await settle(pool.train(POISON));
      expect(failed.ok).toBe(false);
      expect(pool.liveThreads().length).toBeLessThanOrEqual(2);
    }
    await new Promise((resolve) => setTimeout(resolve, 100)); // late replacements would show up by now
    expect(pool.liveThreads()).toHaveLength(2);
    expect(await pool.train(task(QUICK, 2))).toHaveLength(2);
  });

  it("never holds more threads than its size, however often they are killed, and keeps training", async () => {
    pool = new TrainingPool({ threads: 2 });
    await pool.train(task(QUICK, 1));
    const seen = new Set(pool.liveThreads().map((t) => t.threadId));
    for (let kill = 0; kill < 6; kill++) {
      await pool.liveThreads()[0]?.terminate();
      expect(await pool.train(task(QUICK, 1))).toHaveLength(1);
      for (const thread of pool.liveThreads()) seen.add(thread.threadId);
      expect(pool.liveThreads().length).toBeGreaterThanOrEqual(1);
      expect(pool.liveThreads().length).toBeLessThanOrEqual(2);
    }
    await Promise.all([pool.train(task(QUICK, 2)), pool.train(task(QUICK, 2))]);
    await new Promise((resolve) => setTimeout(resolve, 100)); // late replacements would show up by now
    expect(pool.liveThreads().length).toBeLessThanOrEqual(2);
    // At most one replacement per killed thread.
    expect(seen.size).toBeLessThanOrEqual(2 + 6);
  });

  it("fails the task of a thread that dies under it, and keeps working", async () => {
    pool = new TrainingPool({ threads: 1 });
    await pool.train(task(QUICK, 1));
    const running = settle(pool.train(task(SLOW, 50, 120)));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await pool.liveThreads()[0]?.terminate();
    const outcome = await running;
    expect(outcome.ok).toBe(false);
    await until(() => pool.liveThreads().length === 1, "the dead thread is replaced");
    expect(await pool.train(task(QUICK, 2))).toHaveLength(2);
  });

  it("aborts a running task promptly: it rejects with an AbortError and the pool keeps working", async () => {
    pool = new TrainingPool({ threads: 1 });
    await pool.train(task(QUICK, 1)); // the thread is up: the slow task runs at once, it does not queue
    const controller = new AbortController();
    const started = Date.now();
    const running = settle(pool.train(task(SLOW, 50, 120), controller.signal));
    await new Promise((resolve) => setTimeout(resolve, 300));
    controller.abort(new Error("job cancelled"));
    const outcome = await running;
    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? undefined : outcome.error.name).toBe("AbortError");
    // Far sooner than the task would take: the thread was terminated, not waited for.
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await pool.train(task(QUICK, 2))).toHaveLength(2);
    expect(pool.liveThreads()).toHaveLength(1);
  });

  it("rejects a task whose signal fired already without running it", async () => {
    pool = new TrainingPool({ threads: 1 });
    const outcome = await settle(pool.train(task(QUICK, 1), AbortSignal.abort()));
    expect(outcome.ok ? undefined : outcome.error.name).toBe("AbortError");
  });

  it("calibration: the slow task the abort and close tests interrupt takes seconds", async () => {
    pool = new TrainingPool({ threads: 1 });
    await pool.train(task(QUICK, 1));
    const started = Date.now();
    await pool.train(task(SLOW, 2, 120));
    // Fifty such segments take over 2 s, past every "promptly" bound below.
    expect(Date.now() - started).toBeGreaterThan(80);
  });

  it("settles every busy and queued caller when it closes", async () => {
    pool = new TrainingPool({ threads: 2 });
    await Promise.all([pool.train(task(QUICK, 1)), pool.train(task(QUICK, 1))]);
    // Two running (one per thread), four queued.
    const callers = Array.from({ length: 6 }, () => settle(pool.train(task(SLOW, 50, 120))));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    await pool.close();
    const outcomes = await Promise.all(callers);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(outcomes.every((o) => !o.ok && o.error instanceof TrainingPoolClosedError)).toBe(true);
    expect(pool.liveThreads()).toHaveLength(0);
    await expect(pool.train(task(QUICK, 1))).rejects.toBeInstanceOf(TrainingPoolClosedError);
  });
});
