import { describe, expect, it } from "vitest";
import { etsForecast } from "./ets.js";
import { fitModel, restoreModel } from "./model.js";
import { type FittedModel, METHOD_NAMES, type MethodName, type MethodSpec } from "./types.js";

// A carparts series (id 21057559, first 39 months) and a positive seasonal M1 series (QNG2).
const CARPARTS = Float64Array.from([
  0, 4, 5, 2, 1, 2, 1, 3, 1, 0, 1, 0, 4, 0, 0, 1, 0, 1, 2, 0, 0, 1, 0, 1, 2, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0,
  0, 0, 0,
]);
const QUARTERLY = Float64Array.from([
  65, 66, 67, 68, 67, 69, 71, 73, 73, 75, 75, 77, 77, 79, 79, 80, 81, 82, 83, 82, 82, 83, 83, 86, 87, 89, 91,
  93, 95, 97, 97, 97, 100, 100, 100, 100, 101, 102, 102, 101, 103, 106, 106, 110, 112, 114, 115, 116, 116,
  118, 117, 112,
]);
const LEVELS = [0.025, 0.1, 0.5, 0.9, 0.975];

function ok(
  spec: MethodName | MethodSpec,
  y: Float64Array,
  period: number,
  distribution?: "analytic" | "negbin" | "poisson" | "empirical",
): FittedModel {
  const r = fitModel(spec, y, { period, ...(distribution ? { distribution } : {}) });
  if (!r.ok) throw new Error(`${JSON.stringify(spec)}: ${r.error.code} ${r.error.message}`);
  return r.value;
}

function errorCode(spec: MethodName | MethodSpec, y: ArrayLike<number>, period: number): string | undefined {
  const r = fitModel(spec, y, { period });
  return r.ok ? undefined : r.error.code;
}

describe("fit: input errors come back as values", () => {
  it("rejects NaN and infinite values with the index", () => {
    const r = fitModel("naive", [1, 2, Number.NaN, 4], { period: 1 });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe("INVALID_INPUT");
      expect(r.error.details).toEqual({ index: 2 });
    }
    expect(errorCode("ets", [1, Number.POSITIVE_INFINITY, 3, 4, 5, 6, 7, 8], 1)).toBe("INVALID_INPUT");
  });

  it("rejects bad options", () => {
    expect(errorCode("naive", [1, 2, 3], 0)).toBe("INVALID_OPTIONS");
    expect(errorCode("naive", [1, 2, 3], 1.5)).toBe("INVALID_OPTIONS");
    expect(errorCode({ method: "croston", alpha: 1.5 }, [1, 0, 2], 1)).toBe("INVALID_OPTIONS");
    expect(errorCode({ method: "adida", aggregation: 0 }, [1, 0, 2], 1)).toBe("INVALID_OPTIONS");
    expect(errorCode({ method: "ets", model: "XYZ" }, CARPARTS, 12)).toBe("INVALID_OPTIONS");
    expect(errorCode({ method: "nope" } as unknown as MethodSpec, [1, 2], 1)).toBe("INVALID_OPTIONS");
    const bad = fitModel("naive", [1, 2, 3], { period: 1, distribution: "weird" as "auto" });
    expect(bad.ok).toBe(false);
  });

  it("reports series too short for each method", () => {
    expect(errorCode("naive", [], 1)).toBe("TOO_SHORT");
    expect(errorCode("naive", [5], 1)).toBe("TOO_SHORT");
    expect(errorCode("mean", [5], 1)).toBe("TOO_SHORT");
    expect(errorCode("snaive", [1, 2, 3, 4], 4)).toBe("TOO_SHORT");
    expect(errorCode("ets", [1, 2, 3, 4, 5, 6], 1)).toBe("TOO_SHORT");
    expect(errorCode("ses", [1, 2, 3, 4, 5, 6], 1)).toBe("TOO_SHORT");
    expect(errorCode("theta", [1, 2, 3, 4, 5, 6], 1)).toBe("TOO_SHORT");
    expect(errorCode("hw-additive", CARPARTS.subarray(0, 14), 12)).toBe("TOO_SHORT");
    expect(errorCode("croston", [3], 1)).toBe("TOO_SHORT");
    const r = fitModel("ets", [1, 2, 3], { period: 1 });
    if (!r.ok) expect(r.error.details).toMatchObject({ minLength: 7, length: 3 });
  });

  it("reports methods that do not apply to the data", () => {
    expect(errorCode("hw-additive", QUARTERLY, 1)).toBe("NOT_APPLICABLE");
    expect(errorCode("hw-multiplicative", CARPARTS, 12)).toBe("NOT_APPLICABLE");
    expect(errorCode({ method: "ets", model: "MNN" }, CARPARTS, 12)).toBe("NOT_APPLICABLE");
    expect(errorCode({ method: "ets", model: "ANM" }, QUARTERLY, 4)).toBe("NOT_APPLICABLE");
    expect(errorCode("croston", [1, -2, 3, 0], 1)).toBe("NOT_APPLICABLE");
    const neg = fitModel("naive", [1, -2, 3, 0], { period: 1, distribution: "negbin" });
    expect(neg.ok ? undefined : neg.error.code).toBe("NOT_APPLICABLE");
  });
});

describe("fit: degenerate series", () => {
  const all = METHOD_NAMES.filter((m) => m !== "hw-multiplicative");

  it.each(all)("%s forecasts a constant series as that constant", (method) => {
    const y = new Float64Array(30).fill(7);
    const model = ok(method, y, 4);
    const fc = model.forecast(8, { quantiles: LEVELS });
    // SBA's debiasing factor (1 − alpha/2) applies whatever the demand pattern.
    const expected = method === "sba" ? 7 * 0.95 : 7;
    for (const v of fc.mean) expect(v).toBeCloseTo(expected, 6);
    for (const q of fc.quantiles.values()) for (const v of q) expect(Number.isFinite(v)).toBe(true);
  });

  it.each(all)("%s forecasts an all-zero series as zero", (method) => {
    const model = ok(method, new Float64Array(30), 4);
    const fc = model.forecast(6, { quantiles: LEVELS });
    for (const v of fc.mean) expect(Math.abs(v)).toBeLessThan(1e-6);
    for (const q of fc.quantiles.values()) for (const v of q) expect(Number.isFinite(v)).toBe(true);
  });

  it("automatic ETS on a constant series is flat with zero width (as R)", () => {
    const model = ok("ets", new Float64Array(20).fill(3), 12);
    expect(model.label).toBe("ETS(A,N,N)");
    const fc = model.forecast(3, { quantiles: [0.05, 0.95] });
    expect(Array.from(fc.quantiles.get(0.05) ?? [])).toEqual([3, 3, 3]);
  });

  it("intermittent methods give all-zero quantiles for all-zero demand", () => {
    for (const method of ["croston", "sba", "tsb", "adida"] as const) {
      const fc = ok(method, new Float64Array(24), 12).forecast(4, { quantiles: [0.5, 0.99] });
      expect(Array.from(fc.quantiles.get(0.99) ?? [])).toEqual([0, 0, 0, 0]);
    }
  });
});

describe("forecast", () => {
  it("rejects bad horizons and levels", () => {
    const model = ok("naive", CARPARTS, 12);
    expect(() => model.forecast(0)).toThrow(RangeError);
    expect(() => model.forecast(2.5)).toThrow(RangeError);
    expect(() => model.forecast(3, { quantiles: [1] })).toThrow(RangeError);
    expect(() => model.forecast(3, { quantiles: [0] })).toThrow(RangeError);
  });

  it("forecasts any horizon, with the median equal to the mean for Gaussian models", () => {
    const model = ok("damped-holt", QUARTERLY, 4);
    const fc = model.forecast(100, { quantiles: [0.5] });
    expect(fc.mean.length).toBe(100);
    for (let i = 0; i < 100; i++) expect(fc.quantiles.get(0.5)?.[i]).toBeCloseTo(fc.mean[i] as number, 9);
  });

  it("count distributions give integer, non-decreasing quantiles around the demand rate", () => {
    for (const method of ["croston", "sba", "tsb", "adida"] as const) {
      const model = ok(method, CARPARTS, 12);
      expect(["negbin", "poisson"]).toContain(model.distribution);
      const fc = model.forecast(12, { quantiles: [0.1, 0.5, 0.9, 0.99] });
      const q10 = fc.quantiles.get(0.1) as Float64Array;
      const q99 = fc.quantiles.get(0.99) as Float64Array;
      for (let i = 0; i < 12; i++) {
        expect(Number.isInteger(q99[i])).toBe(true);
        expect(q10[i]).toBeLessThanOrEqual(q99[i] as number);
        expect(q99[i]).toBeGreaterThanOrEqual(1);
      }
    }
  });

  it("offers every distribution for every method", () => {
    for (const distribution of ["analytic", "negbin", "poisson", "empirical"] as const) {
      for (const method of ["naive", "ets", "theta", "croston", "snaive"] as const) {
        const fc = ok(method, CARPARTS, 12, distribution).forecast(24, { quantiles: LEVELS });
        for (const q of fc.quantiles.values()) for (const v of q) expect(Number.isFinite(v)).toBe(true);
      }
    }
  });

  it("widens empirical quantiles with the horizon as the method's variance grows", () => {
    const model = ok("naive", QUARTERLY, 4, "empirical");
    const fc = model.forecast(9, { quantiles: [0.9] });
    const q = fc.quantiles.get(0.9) as Float64Array;
    expect((q[8] as number) - (fc.mean[8] as number)).toBeCloseTo(
      3 * ((q[0] as number) - (fc.mean[0] as number)),
      9,
    );
  });
});

describe("intermittent methods", () => {
  it("TSB decays through a run of zeros while Croston keeps its last rate", () => {
    const y = Float64Array.from([3, 0, 2, 0, 4, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const croston = ok("croston", y, 1).forecast(1).mean[0] as number;
    const tsb = ok("tsb", y, 1).forecast(1).mean[0] as number;
    expect(tsb).toBeLessThan(croston);
    expect(tsb).toBeGreaterThan(0);
  });

  it("ADIDA spreads the forecast of bucket totals evenly", () => {
    const y = Float64Array.from([0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3]);
    const model = ok({ method: "adida", aggregation: 3 }, y, 1);
    expect(model.label).toBe("ADIDA(k=3)");
    expect(model.forecast(2).mean[1]).toBeCloseTo(1, 12);
  });

  it("SBA is Croston times (1 - alpha/2)", () => {
    const croston = ok({ method: "croston", alpha: 0.2 }, CARPARTS, 12).forecast(1).mean[0] as number;
    const sba = ok({ method: "sba", alpha: 0.2 }, CARPARTS, 12).forecast(1).mean[0] as number;
    expect(sba).toBeCloseTo(croston * 0.9, 12);
  });
});

describe("nonNegative", () => {
  it("clamps Gaussian quantiles and means at zero and survives a round trip", () => {
    const r = fitModel("naive", CARPARTS, { period: 12, nonNegative: true });
    if (!r.ok) throw new Error(r.error.message);
    const q = r.value.forecast(6, { quantiles: [0.05] }).quantiles.get(0.05) as Float64Array;
    expect(Math.min(...q)).toBe(0);
    const back = restoreModel(JSON.parse(JSON.stringify(r.value.toState())));
    expect(
      back.ok && Math.min(...(back.value.forecast(6, { quantiles: [0.05] }).quantiles.get(0.05) ?? [])),
    ).toBe(0);
    const plain = ok("naive", CARPARTS, 12)
      .forecast(6, { quantiles: [0.05] })
      .quantiles.get(0.05) as Float64Array;
    expect(Math.min(...plain)).toBeLessThan(0);
    expect(errorCode("naive", [1, -1, 2], 1)).toBeUndefined();
    const neg = fitModel("naive", [1, -1, 2], { period: 1, nonNegative: true });
    expect(neg.ok ? undefined : neg.error.code).toBe("NOT_APPLICABLE");
  });
});

describe("state", () => {
  it.each(METHOD_NAMES)("%s round-trips through JSON and forecasts identically", (method) => {
    const y = method === "hw-multiplicative" ? QUARTERLY : CARPARTS;
    const period = method === "hw-multiplicative" ? 4 : 12;
    for (const distribution of ["analytic", "negbin", "empirical"] as const) {
      const model = ok(method, y, period, distribution);
      const json = JSON.stringify(model.toState());
      const restored = restoreModel(JSON.parse(json));
      if (!restored.ok) throw new Error(restored.error.message);
      expect(restored.value.label).toBe(model.label);
      expect(restored.value.fitted).toBeUndefined();
      const a = model.forecast(15, { quantiles: LEVELS });
      const b = restored.value.forecast(15, { quantiles: LEVELS });
      expect(Array.from(b.mean)).toEqual(Array.from(a.mean));
      for (const level of LEVELS)
        expect(Array.from(b.quantiles.get(level) ?? [])).toEqual(Array.from(a.quantiles.get(level) ?? []));
    }
  });

  it("rejects malformed states", () => {
    const state = ok("ets", QUARTERLY, 4).toState();
    const cases: unknown[] = [
      null,
      "x",
      { ...state, format: "other" },
      { ...state, version: 2 },
      { ...state, method: "magic" },
      { ...state, core: { ...state.core, state: [1] } },
      { ...state, core: { kind: "naive", last: "1", sigma2: 1 } },
      { ...state, distribution: { kind: "negbin", size: -1 } },
      { ...state, info: { ...state.info, params: { alpha: "x" } } },
    ];
    for (const c of cases) {
      const r = restoreModel(c);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe("INVALID_STATE");
    }
  });

  it("is frozen plain JSON", () => {
    const state = ok("theta", QUARTERLY, 4).toState();
    expect(Object.isFrozen(state)).toBe(true);
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
  });
});

describe("ETS variance", () => {
  it("follows the textbook ETS(A,N,A) variance; R's placement differs only at multiples of m", () => {
    const core = {
      error: "A",
      trend: "N",
      damped: false,
      season: "A",
      m: 4,
      alpha: 0.3,
      beta: 0,
      gamma: 0.2,
      phi: 1,
      state: [10, 1, -1, 2, -2],
      sigma2: 2,
    } as const;
    const h = 13;
    const ours = etsForecast(core, h);
    const r = etsForecast(core, h, { rCompatibleVariance: true });
    for (let i = 1; i <= h; i++) {
      const k = Math.floor((i - 1) / 4);
      const textbook = 2 * (1 + 0.09 * (i - 1) + 0.2 * k * (0.6 + 0.2));
      expect(ours.variance[i - 1]).toBeCloseTo(textbook, 10);
      if (i % 4 !== 0) expect(r.variance[i - 1]).toBeCloseTo(textbook, 10);
    }
  });
});
