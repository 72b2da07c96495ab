import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { COMMITTED_DATA } from "../core/test-support/datasets.js";
import { type FittedModel, restoreModel, WQL_LEVELS } from "../forecasting/index.js";
import { type CandidatePlan, SELECTION_METRICS, type SegmentPlan } from "./segment-plan.js";
import { type SegmentOutcome, type SegmentSuccess, trainSegment } from "./segment-trainer.js";

const CARPARTS = COMMITTED_DATA.carparts;
const M1_TRAIN = join(COMMITTED_DATA.m1, "m1_train.csv");
const M1_TEST = join(COMMITTED_DATA.m1, "m1_test.csv");

const c = (
  name: string,
  spec: CandidatePlan["spec"],
  distribution: CandidatePlan["distribution"] = "negbin",
) => ({
  name,
  spec,
  distribution,
});

const SNAIVE = c("snaive", { method: "snaive" });

function countPlan(overrides: Partial<SegmentPlan> = {}): SegmentPlan {
  return {
    horizon: 12,
    period: 12,
    candidates: [
      c("ses", { method: "ses" }),
      c("theta", { method: "theta" }),
      c("croston", { method: "croston" }),
      c("tsb", { method: "tsb" }),
      c("adida", { method: "adida" }),
    ],
    validation: { scheme: "rolling", origins: 3, size: 6, step: 6 },
    selectionMetric: "wql",
    gate: { baseline: SNAIVE, metric: "wql", minImprovementPct: 0 },
    quantiles: [...WQL_LEVELS],
    holdout: 12,
    minLength: 14,
    ...overrides,
  };
}

function success(out: SegmentOutcome): SegmentSuccess {
  if (!out.ok) throw new Error(`expected success, got ${out.reason}: ${out.message}`);
  return out;
}

/** Deterministic pseudo-random intermittent counts. */
function intermittent(n: number, seed: number): Float64Array {
  let s = seed;
  const next = (): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  return Float64Array.from({ length: n }, () => (next() < 0.3 ? 1 + Math.floor(next() * 4) : 0));
}

function readLong(path: string, ids: readonly string[]): Map<string, number[]> {
  const wanted = new Set(ids);
  const out = new Map<string, number[]>();
  const lines = readFileSync(path, "utf8").split("\n");
  for (const line of lines.slice(1)) {
    const cells = line.split(",");
    const id = cells[0] ?? "";
    if (!wanted.has(id)) continue;
    const list = out.get(id) ?? [];
    list.push(Number(cells[cells.length - 1]));
    out.set(id, list);
  }
  return out;
}

describe("trainSegment: bad series", () => {
  it("rejects empty, too short, all-NA and non-finite series with a reason", () => {
    const plan = countPlan();
    expect(trainSegment("e", new Float64Array(0), plan)).toMatchObject({ ok: false, reason: "TOO_SHORT" });
    const short = trainSegment("s", Float64Array.of(1, 2, 3), plan);
    expect(short).toMatchObject({ ok: false, seriesId: "s", reason: "TOO_SHORT" });
    expect(trainSegment("na", new Float64Array(30).fill(Number.NaN), plan)).toMatchObject({
      ok: false,
      reason: "ALL_NA",
    });
    const hole = intermittent(51, 1);
    hole[20] = Number.NaN;
    const nan = trainSegment("h", hole, plan);
    expect(nan).toMatchObject({ ok: false, reason: "NON_FINITE" });
    expect(nan.ok ? "" : nan.message).toContain("value 20");
    const inf = intermittent(51, 1);
    inf[3] = Number.POSITIVE_INFINITY;
    expect(trainSegment("i", inf, plan)).toMatchObject({ ok: false, reason: "NON_FINITE" });
  });

  it("needs room for at least one validation fold", () => {
    const plan = countPlan({ holdout: 0, minLength: 2, validation: { scheme: "holdout", size: 10 } });
    expect(trainSegment("x", intermittent(11, 2), plan)).toMatchObject({ ok: false, reason: "TOO_SHORT" });
  });

  it("fails with FIT_FAILED only when every candidate fails, and records why candidates were skipped", () => {
    const negative = Float64Array.from({ length: 40 }, (_, i) => (i % 3) - 1);
    // Count distributions need non-negative data.
    const allFail = trainSegment("neg", negative, countPlan());
    expect(allFail).toMatchObject({ ok: false, reason: "FIT_FAILED" });
    const mixed = countPlan({
      candidates: [
        c("hw", { method: "hw-multiplicative" }, "analytic"),
        c("ses", { method: "ses" }, "analytic"),
      ],
      gate: { baseline: c("naive", { method: "naive" }, "analytic"), metric: "mae", minImprovementPct: 0 },
    });
    const out = success(trainSegment("zeros", intermittent(51, 3), mixed));
    expect(out.winner).toBe("ses");
    expect(out.skipped.hw).toMatch(/NOT_APPLICABLE/);
    expect(Object.keys(out.validation)).toEqual(["ses"]);
  });
});

describe("trainSegment: selection, gate, holdout", () => {
  it("handles a constant series (zero MASE scale) by falling back to an unscaled metric", () => {
    const out = success(
      trainSegment("c", new Float64Array(51).fill(4), countPlan({ selectionMetric: "mase" })),
    );
    expect(out.selectedBy).toBe("mae");
    expect(out.holdout?.mean).toEqual(new Array(12).fill(4));
    expect(out.holdout?.metrics.mase).toBeNaN();
    expect(out.holdout?.metrics.mae).toBe(0);
    // Winner and baseline both forecast 4 exactly: no improvement, and the gate (>= 0 %) passes.
    expect(out.gate.improvementPct).toBe(0);
    expect(out.gate.passed).toBe(true);
  });

  it("scores an all-zero holdout with the documented finite WQL fallback", () => {
    const y = new Float64Array(51);
    y.set(intermittent(39, 7));
    const out = success(trainSegment("z", y, countPlan()));
    expect(Number.isFinite(out.holdout?.metrics.wql)).toBe(true);
    expect(out.holdout?.actuals).toEqual(new Array(12).fill(0));
  });

  it("picks the lowest value of the selection metric, ties to the earlier candidate", () => {
    const y = intermittent(51, 11);
    for (const metric of SELECTION_METRICS) {
      const out = success(trainSegment("m", y, countPlan({ selectionMetric: metric })));
      expect(out.selectedBy).toBe(metric);
      const scores = Object.entries(out.validation).map(([name, v]) => [name, v[metric]] as const);
      const best = Math.min(...scores.map(([, v]) => v));
      expect(out.winner).toBe(scores.find(([, v]) => v === best)?.[0]);
    }
    // Two identical candidates: the first listed wins.
    const twins = countPlan({ candidates: [c("first", { method: "ses" }), c("second", { method: "ses" })] });
    expect(success(trainSegment("t", y, twins)).winner).toBe("first");
  });

  it("passes the gate only with the required improvement over the baseline", () => {
    const y = intermittent(51, 5);
    const loose = success(
      trainSegment("g", y, countPlan({ gate: { baseline: SNAIVE, metric: "wql", minImprovementPct: -1e9 } })),
    );
    const { score, baselineScore, improvementPct } = loose.gate;
    expect(loose.gate).toMatchObject({ passed: true, baseline: "snaive", metric: "wql" });
    expect(improvementPct).toBeCloseTo((100 * (baselineScore - score)) / baselineScore, 10);
    expect(score).toBe(loose.validation[loose.winner]?.wql);
    const strict = success(
      trainSegment("g", y, countPlan({ gate: { baseline: SNAIVE, metric: "wql", minImprovementPct: 100 } })),
    );
    expect(strict.gate.passed).toBe(improvementPct >= 100);
    // The baseline among the candidates is scored once, from the same folds.
    const inside = countPlan({ candidates: [SNAIVE, ...countPlan().candidates] });
    const same = success(trainSegment("g", y, inside));
    expect(same.gate.baselineScore).toBe(same.validation.snaive?.wql);
  });

  it("supports a single holdout validation window and a plan without a benchmark holdout", () => {
    const y = intermittent(51, 9);
    const out = success(
      trainSegment("h", y, countPlan({ holdout: 0, validation: { scheme: "holdout", size: 12 } })),
    );
    expect(out.holdout).toBeUndefined();
    expect(out.state.n).toBe(51);
  });

  it("is deterministic and its state restores to identical forecasts", () => {
    const y = intermittent(51, 21);
    const a = success(trainSegment("d", y, countPlan()));
    const b = success(trainSegment("d", y, countPlan()));
    expect({ ...a, fitMs: 0 }).toEqual({ ...b, fitMs: 0 });
    expect(a.state.n).toBe(39);
    const restored = restoreModel(JSON.parse(JSON.stringify(a.state)));
    if (!restored.ok) throw new Error(restored.error.message);
    const model: FittedModel = restored.value;
    const fc = model.forecast(12, { quantiles: WQL_LEVELS });
    expect(Array.from(fc.mean)).toEqual(a.holdout?.mean);
    for (const q of WQL_LEVELS)
      expect(Array.from(fc.quantiles.get(q) ?? [])).toEqual(a.holdout?.quantiles[String(q)]);
    const h = a.holdout;
    expect(h?.metrics.coverage80).toBeGreaterThanOrEqual(0);
    expect(Object.keys(h?.metrics ?? {}).sort()).toEqual(
      ["bias", "coverage80", "mae", "mase", "rmse", "rmsse", "smape", "wql"].sort(),
    );
  });
});

describe("trainSegment on real carparts series", () => {
  const ids = [
    "21311636",
    "21033894",
    "21057559",
    "90587090",
    "21063109",
    "21058777",
    "90605086",
    "90552200",
  ];
  const data = readLong(CARPARTS, ids);

  it("trains each series, reports holdout metrics and stays fast", () => {
    const plan = countPlan();
    let ms = 0;
    for (const id of ids) {
      const values = data.get(id);
      expect(values?.length).toBe(51);
      const out = success(trainSegment(id, Float64Array.from(values ?? []), plan));
      expect(out.holdout?.actuals).toEqual(values?.slice(39));
      expect(out.holdout?.mean).toHaveLength(12);
      for (const v of out.holdout?.mean ?? []) expect(v).toBeGreaterThanOrEqual(0);
      expect(Object.keys(out.validation).length).toBeGreaterThanOrEqual(5);
      ms += out.fitMs;
    }
    // About 3 ms per series on the reference machine; generous for a loaded CI runner.
    expect(ms / ids.length).toBeLessThan(50);
  });
});

describe("trainSegment on real M1 series", () => {
  it("selects among smoothing methods on a monthly series with Gaussian intervals", () => {
    const train = readLong(M1_TRAIN, ["MNM45"]).get("MNM45") ?? [];
    const test = readLong(M1_TEST, ["MNM45"]).get("MNM45") ?? [];
    const plan: SegmentPlan = {
      horizon: test.length,
      period: 12,
      candidates: [
        c("naive", { method: "naive" }, "analytic"),
        c("ses", { method: "ses" }, "analytic"),
        c("theta", { method: "theta" }, "analytic"),
        c("damped", { method: "damped-holt" }, "analytic"),
        c("ets", { method: "ets" }, "analytic"),
      ],
      validation: { scheme: "holdout", size: test.length },
      selectionMetric: "mase",
      gate: { baseline: c("naive", { method: "naive" }, "analytic"), metric: "mase", minImprovementPct: 0 },
      quantiles: [0.1, 0.5, 0.9],
      holdout: test.length,
      minLength: 3,
    };
    const out = success(trainSegment("MNM45", Float64Array.from([...train, ...test]), plan));
    expect(out.state.n).toBe(train.length);
    expect(out.holdout?.actuals).toEqual(test);
    expect(Number.isFinite(out.holdout?.metrics.mase)).toBe(true);
    expect(Object.keys(out.holdout?.quantiles ?? {})).toEqual(["0.1", "0.5", "0.9"]);
  });
});
