import { describe, expect, it } from "vitest";
import { buildCategoricalProfile, buildNumericProfile, createRng } from "../statistics/index.js";
import {
  type CheckResult,
  calibrate,
  evaluateChecks,
  type ModelMonitoringData,
  type ModelReference,
  type MonitoringObservations,
  parseChecksConfig,
  requiredHistory,
  resolveChecks,
} from "./index.js";

// 400 resamples keep the tests fast; the thresholds' Monte Carlo error stays well inside the assertions.
const checksOf = (checks: unknown[]) =>
  resolveChecks(parseChecksConfig({ defaults: { resamples: 400 }, checks }));

function forecastData(
  actual: number[],
  prediction: number[],
  reference: ModelReference,
  extra: Partial<MonitoringObservations> = {},
): ModelMonitoringData {
  return {
    model: "m",
    kind: "forecast",
    reference,
    observations: { periods: actual.map((_, i) => 100 + i), actual, prediction, ...extra },
  };
}

async function one(checks: unknown[], data: ModelMonitoringData): Promise<CheckResult> {
  const [r] = await evaluateChecks(checksOf(checks), data);
  if (r === undefined) throw new Error("no result");
  return r;
}

const rng = createRng(8);
const normal = (n: number, mean = 0, sd = 1) => Array.from({ length: n }, () => mean + sd * rng.normal());

describe("performance checks", () => {
  const mae = { id: "mae", kind: "performance", metric: "mae", window: 4, tolerance: 0.5 };
  const reference = { metrics: { mae: 1, mase: 0.8, coverage_80: 0.8, accuracy: 0.9 }, maseScale: 2 };

  it("is satisfied within the tolerance and violated past it, with evidence", async () => {
    const ok = await one([mae], forecastData([10, 11, 9, 10], [11, 10, 10, 11], reference));
    expect(ok.outcome).toBe("satisfied");
    expect(ok.evidence).toMatchObject({ statistic: 1, threshold: 1.5, windowSize: 4, observations: 4 });
    const bad = await one([mae], forecastData([0, 13, 9, 10, 10], [0, 10, 12, 12, 12], reference));
    expect(bad.outcome).toBe("violated");
    expect(bad.evidence.statistic).toBeCloseTo(2.5);
    expect(bad.exceedance).toBeCloseTo((2.5 - 1.5) / 1.5);
    expect(bad.latest).toBe(104);
    expect(bad.reasons[0]).toContain("mae 2.500 over the last 4");
  });

  it("counts only rows whose actual arrived, and is inconclusive with fewer than its minimum", async () => {
    const r = await one([mae], forecastData([1, Number.NaN, 2, Number.NaN], [1, 1, 1, 1], reference));
    expect(r.outcome).toBe("inconclusive");
    expect(r.evidence.observations).toBe(2);
    expect(r.reasons[0]).toBe("2 of the 4 observations with actuals needed");
  });

  it("scales MASE by the reference and refuses it without a scale", async () => {
    const mase = { id: "mase", kind: "performance", metric: "mase", window: 2, tolerance: 0.25 };
    const r = await one([mase], forecastData([4, 4], [2, 2], reference));
    expect(r.evidence.statistic).toBeCloseTo(1); // MAE 2 / scale 2
    expect(r.evidence.threshold).toBeCloseTo(1);
    expect(r.outcome).toBe("satisfied");
    const none = await one([mase], forecastData([4, 4], [2, 2], { metrics: { mase: 1 } }));
    expect(none.outcome).toBe("inconclusive");
  });

  it("checks bias against a share of the reference MAE and coverage from below", async () => {
    const bias = { id: "bias", kind: "performance", metric: "bias", window: 3, tolerance: 0.5 };
    const r = await one([bias], forecastData([12, 12, 12], [11, 11, 11], reference));
    expect(r).toMatchObject({ outcome: "violated", evidence: { statistic: 1, threshold: 0.5 } });
    const coverage = {
      id: "cov",
      kind: "performance",
      metric: "coverage",
      level: 80,
      window: 4,
      tolerance: 0.1,
    };
    const lower = { 80: [0, 0, 0, 0] };
    const upper = { 80: [1, 1, 5, 5] };
    const c = await one([coverage], forecastData([2, 2, 2, 2], [1, 1, 1, 1], reference, { lower, upper }));
    expect(c).toMatchObject({ outcome: "violated", evidence: { statistic: 0.5, direction: "below" } });
    expect(c.evidence.threshold).toBeCloseTo(0.72);
  });

  it("watches a classifier's accuracy and AUC", async () => {
    const data: ModelMonitoringData = {
      model: "c",
      kind: "classifier",
      reference: { metrics: { accuracy: 0.9, auc: 0.95 } },
      observations: {
        actual: [1, 0, 1, 0, 1, 0],
        prediction: [1, 0, 0, 1, 1, 0],
        probability: [0.9, 0.2, 0.4, 0.6, 0.8, 0.1],
      },
    };
    const [acc, auc] = await evaluateChecks(
      checksOf([
        { id: "acc", kind: "performance", metric: "accuracy", window: 6, tolerance: 0.1 },
        { id: "auc", kind: "performance", metric: "auc", window: 6, tolerance: 0.1 },
      ]),
      data,
    );
    expect(acc).toMatchObject({ outcome: "violated", evidence: { statistic: 4 / 6 } });
    expect(auc?.evidence.statistic).toBeCloseTo(8 / 9);
    expect(auc?.outcome).toBe("satisfied");
  });
});

describe("drift checks", () => {
  const sample = normal(2000);
  const reference: ModelReference = { prediction: { profile: buildNumericProfile(sample), sample } };
  const ks = { id: "ks", kind: "drift", target: "prediction", statistic: "ks", windowSize: 200, alpha: 0.01 };

  it("calibrates the threshold from the reference and fires on a shift", async () => {
    const same = await one([ks], forecastData(normal(200), normal(200), reference));
    expect(same.outcome).toBe("satisfied");
    const cal = same.evidence.calibration;
    expect(cal).toMatchObject({ source: "calibrated", cached: false, alpha: 0.01, windowSize: 200 });
    // About the 99 % quantile of the KS statistic for n = 200 against a reference of 2,000 (≈ 1.63/√n·√(1+n/N)).
    expect(same.evidence.threshold).toBeGreaterThan(0.08);
    expect(same.evidence.threshold).toBeLessThan(0.16);
    const shifted = await one([ks], forecastData(normal(200), normal(200, 0.5), reference));
    expect(shifted.outcome).toBe("violated");
    expect(shifted.evidence.statistic).toBeGreaterThan(shifted.evidence.threshold as number);
  });

  it("uses a cached calibration, also after a JSON round trip, and a fixed threshold only when set", async () => {
    const checks = checksOf([ks, { ...ks, id: "psi", statistic: "psi", alpha: undefined, threshold: 0.25 }]);
    const calibration = JSON.parse(JSON.stringify(calibrate(checks, reference)));
    const data = forecastData(normal(200), normal(200), reference);
    const [a, b] = await evaluateChecks(checks, data, { calibration });
    expect(a?.evidence.calibration?.cached).toBe(true);
    expect(a?.evidence.threshold).toBe(calibration.checks.ks.threshold);
    expect(b?.evidence).toMatchObject({ threshold: 0.25, calibration: { source: "explicit" } });
    // Another window size is not what the cache holds: calibrated again.
    const [c] = await evaluateChecks(checksOf([{ ...ks, windowSize: 100 }]), data, { calibration });
    expect(c?.evidence.calibration?.cached).toBe(false);
  });

  it("calibrates from the profile when the reference sample was not kept", async () => {
    const r = await one(
      [ks],
      forecastData(normal(200), normal(200), { prediction: { profile: reference.prediction!.profile } }),
    );
    expect(r.evidence.calibration?.pseudoSample).toBe(true);
    expect(r.evidence.threshold).toBeGreaterThan(0.06);
  });

  it("watches categorical inputs and is inconclusive where a statistic does not apply", async () => {
    const colours = Array.from({ length: 1000 }, (_, i) =>
      i % 10 < 6 ? "red" : i % 10 < 9 ? "blue" : "green",
    );
    const ref: ModelReference = {
      features: { colour: { profile: buildCategoricalProfile(colours), sample: colours } },
    };
    const data = (values: string[]): ModelMonitoringData => ({
      model: "m",
      kind: "classifier",
      reference: ref,
      observations: {
        actual: values.map(() => 0),
        prediction: values.map(() => 0),
        inputs: { colour: values },
      },
    });
    const psi = { id: "psi", kind: "drift", target: "inputs.colour", statistic: "psi", windowSize: 100 };
    const same = await one([psi], data(colours.slice(0, 100)));
    expect(same.outcome).toBe("satisfied");
    const flipped = await one([psi], data(colours.slice(0, 100).map((c) => (c === "red" ? "blue" : "red"))));
    expect(flipped.outcome).toBe("violated");
    const ksCat = await one([{ ...psi, statistic: "ks" }], data(colours.slice(0, 100)));
    expect(ksCat.outcome).toBe("inconclusive");
    expect(ksCat.reasons[0]).toContain("needs a numeric");
  });

  it("is inconclusive on a short window", async () => {
    const r = await one([ks], forecastData(normal(50), normal(50), reference));
    expect(r).toMatchObject({ outcome: "inconclusive", evidence: { observations: 50 } });
  });
});

describe("change checks", () => {
  const validationErrors = normal(40);
  const reference: ModelReference = { validationErrors };
  const cusum = { id: "cusum", kind: "change", detector: "cusum", alpha: 0.01, horizon: 12 };

  it("fires on a level shift of the errors and names the period", async () => {
    const errors = [...normal(8), ...normal(3, 6)];
    const r = await one(
      [cusum],
      forecastData(
        errors,
        errors.map(() => 0),
        reference,
      ),
    );
    expect(r.outcome).toBe("violated");
    expect(r.evidence.statistic).toBeGreaterThan(r.evidence.threshold as number);
    const alarms = (r.evidence.detail?.alarms ?? []) as { at: number; direction: string }[];
    expect(alarms.at(-1)).toMatchObject({ at: 110, direction: "up" });
    expect(r.evidence.calibration?.scale?.method).toBe("mad"); // normal errors: the MAD is not degenerate
  });

  it("is satisfied on errors like the validation errors, and an old alarm falls out of the lookback", async () => {
    const calm = normal(12, 0, 0.5);
    expect(
      (
        await one(
          [cusum],
          forecastData(
            calm,
            calm.map(() => 0),
            reference,
          ),
        )
      ).outcome,
    ).toBe("satisfied");
    // A spike then calm: the alarm is at period 100 and lookback 1 sees only the newest period.
    const spike = [40, ...calm];
    const r = await one(
      [cusum],
      forecastData(
        spike,
        spike.map(() => 0),
        reference,
      ),
    );
    expect(r.outcome).toBe("satisfied");
    const wide = await one(
      [{ ...cusum, lookback: 13 }],
      forecastData(
        spike,
        spike.map(() => 0),
        reference,
      ),
    );
    expect(wide.outcome).toBe("violated");
  });

  it("uses a fixed h when given, and Page–Hinkley too", async () => {
    const errors = [...normal(10), 3, 3];
    const fixed = await one(
      [{ id: "c", kind: "change", detector: "cusum", h: 4 }],
      forecastData(
        errors,
        errors.map(() => 0),
        reference,
      ),
    );
    expect(fixed.evidence).toMatchObject({ threshold: 4, calibration: { source: "explicit" } });
    const ph = await one(
      [{ id: "ph", kind: "change", detector: "page-hinkley", alpha: 0.05, lookback: 4 }],
      forecastData([...normal(6), ...normal(4, 8)], Array(10).fill(0), reference),
    );
    expect(ph.outcome).toBe("violated");
  });

  it("is inconclusive without validation errors", async () => {
    const r = await one([cusum], forecastData([1, 2], [1, 2], { validationErrors: [1, 2] }));
    expect(r.outcome).toBe("inconclusive");
    expect(r.reasons[0]).toContain("validation errors");
  });
});

describe("quality checks", () => {
  const x = normal(500, 10, 1);
  const reference: ModelReference = { features: { x: { profile: buildNumericProfile(x) } } };
  const quality = { id: "q", kind: "quality", window: 20 };
  const data = (inputs: Record<string, (number | string | null)[]>): ModelMonitoringData => ({
    model: "m",
    kind: "regression",
    reference,
    observations: { actual: Array(20).fill(0), prediction: Array(20).fill(0), inputs },
  });

  it("is satisfied on values like the reference's", async () => {
    expect((await one([quality], data({ x: normal(20, 10, 0.5) }))).outcome).toBe("satisfied");
  });

  it("finds missing values, values out of range and values of the wrong type", async () => {
    const values: (number | string | null)[] = normal(20, 10, 0.5);
    values[0] = null;
    values[1] = null;
    values[2] = 1000;
    values[3] = "ten";
    const r = await one([quality], data({ x: values }));
    expect(r.outcome).toBe("violated");
    const findings = (r.evidence.detail?.findings ?? []) as { problem: string }[];
    expect(findings.map((f) => f.problem).sort()).toEqual(["missing", "out-of-range", "schema"]);
    const absent = await one([quality], data({}));
    expect(absent.reasons).toEqual(["x is absent"]);
  });
});

describe("rule checks", () => {
  it("evaluates a rule over the observations with the reference's metrics", async () => {
    const reference = { metrics: { mae: 1 } };
    const neg = await one(
      [{ id: "r", kind: "rule", rule: "forecast >= 0", defaultWindow: { size: 3, unit: "periods" } }],
      forecastData([1, 1, 1], [1, -1, 1], reference),
    );
    expect(neg.outcome).toBe("violated");
    const mae = { id: "mae", kind: "rule", rule: "mae(last 3 periods) <= 1.5 * reference.mae" };
    expect((await one([mae], forecastData([1, 2, 3], [1, 2, 4], reference))).outcome).toBe("satisfied");
    expect((await one([mae], forecastData([1, 2, 3], [5, 2, 4], reference))).outcome).toBe("violated");
    expect((await one([mae], forecastData([1, 2], [1, 2], reference))).outcome).toBe("inconclusive");
  });
});

describe("required history", () => {
  it("asks the store for the longest window, and all history for change checks", () => {
    expect(
      requiredHistory(
        checksOf([
          { id: "a", kind: "performance", metric: "mae", window: 6, tolerance: 1 },
          { id: "b", kind: "drift", target: "prediction", statistic: "psi", windowSize: 50 },
        ]),
      ),
    ).toEqual({ rows: 50, fullHistory: false });
    expect(requiredHistory(checksOf([{ id: "c", kind: "change", detector: "cusum" }])).fullHistory).toBe(
      true,
    );
  });
});
