import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  buildCategoricalProfile,
  buildNumericProfile,
  categoricalDrift,
  chiSquare,
  createRng,
  jensenShannon,
  ksStatistic,
  numericDrift,
  psi,
  wasserstein1,
} from "./index.js";

const normals = (n: number, rng: ReturnType<typeof createRng>, mean = 0, sd = 1): Float64Array =>
  Float64Array.from({ length: n }, () => mean + sd * rng.normal());

/** Exact two-sample statistics, the straightforward way, to check the sketch-based ones against. */
function exactKs(a: Float64Array, b: Float64Array): number {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i] as number, y[j] as number);
    while (i < x.length && x[i] === v) i++;
    while (j < y.length && y[j] === v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

function exactWasserstein(a: Float64Array, b: Float64Array): number {
  const all = Float64Array.from([...a, ...b]).sort();
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  let i = 0;
  let j = 0;
  let w = 0;
  for (let k = 0; k + 1 < all.length; k++) {
    const v = all[k] as number;
    while (i < x.length && (x[i] as number) <= v) i++;
    while (j < y.length && (y[j] as number) <= v) j++;
    w += Math.abs(i / x.length - j / y.length) * ((all[k + 1] as number) - v);
  }
  return w;
}

describe("psi", () => {
  it("matches hand-computed values, with epsilon for an empty bin", () => {
    // 0.25·ln 2 + 0.25·ln 2
    expect(psi([0.25, 0.25, 0.5], [0.5, 0.25, 0.25])).toBeCloseTo(0.5 * Math.LN2, 14);
    // Empty reference bin raised to 1e-4: (0.25 − 1e-4)·ln(0.25/1e-4) + 0.25·ln 2 (numpy gives 2.1285158932529735)
    expect(psi([0.5, 0.5, 0], [0.5, 0.25, 0.25])).toBeCloseTo(2.1285158932529735, 12);
    // Counts are normalised.
    expect(psi([25, 25, 50], [10, 5, 5])).toBeCloseTo(0.5 * Math.LN2, 14);
  });

  it("is symmetric, non-negative and zero only for equal distributions", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 50 })), {
          minLength: 2,
          maxLength: 12,
        }),
        (pairs) => {
          const a = pairs.map((p) => p[0] + 1);
          const b = pairs.map((p) => p[1] + 1);
          const v = psi(a, b);
          expect(v).toBeGreaterThanOrEqual(0);
          expect(psi(b, a)).toBeCloseTo(v, 12);
          expect(psi(a, a)).toBe(0);
        },
      ),
      { numRuns: 200, seed: 1 },
    );
  });

  it("refuses negative counts, empty inputs and unequal lengths", () => {
    const code = expect.objectContaining({ code: "VALIDATION_FAILED" });
    expect(() => psi([1, -1], [1, 1])).toThrow(code);
    expect(() => psi([0, 0], [1, 1])).toThrow(code);
    expect(() => psi([1, 2, 3], [1, 1])).toThrow(code);
  });
});

describe("jensenShannon", () => {
  it("matches scipy.spatial.distance.jensenshannon(base=2)", () => {
    expect(jensenShannon([1, 0], [0.5, 0.5])).toBeCloseTo(0.5579230452841438, 14);
    expect(jensenShannon([0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25])).toBeCloseTo(
      0.20050332253142814,
      14,
    );
    expect(jensenShannon([3, 0, 5, 2], [1, 4, 4, 1])).toBeCloseTo(0.5039997748737591, 14);
    expect(jensenShannon([1, 0], [0, 1])).toBeCloseTo(1, 15);
    expect(jensenShannon([2, 3], [4, 6])).toBe(0);
  });
});

describe("chiSquare", () => {
  const fixture = JSON.parse(readFileSync(new URL("./fixtures/chisq.json", import.meta.url), "utf8")) as {
    cases: { observed: number[]; p: number[]; statistic: number; df: number; p_value: number }[];
  };

  it("matches R's chisq.test(x, p = p)", () => {
    for (const c of fixture.cases) {
      const r = chiSquare(c.p, c.observed);
      expect(r.statistic).toBeCloseTo(c.statistic, 10);
      expect(r.df).toBe(c.df);
      expect(Math.abs(r.pValue - c.p_value)).toBeLessThan(1e-12);
    }
  });

  it("drops an empty zero-probability bin and floors an occupied one at epsilon", () => {
    expect(chiSquare([0.5, 0.5, 0], [10, 10, 0])).toEqual({ statistic: 0, df: 1, pValue: 1 });
    const r = chiSquare([0.5, 0.5, 0], [10, 9, 1]);
    expect(r.df).toBe(2);
    // (1 − 20·1e-4)²/(20·1e-4) + 0 + 1/10
    expect(r.statistic).toBeCloseTo(498.102, 9);
  });
});

describe("ksStatistic and wasserstein1 from the sketch", () => {
  // A reference whose type-7 percentiles are exactly 0, 0.01, …, 1: the sketch's CDF is F(x) = x on [0, 1].
  const uniform = buildNumericProfile(Float64Array.from({ length: 1001 }, (_, i) => i / 1000));

  it("give the textbook values against a uniform reference", () => {
    for (const c of [0.1, 0.37, 0.5, 0.9]) {
      expect(ksStatistic(uniform, [c])).toBeCloseTo(Math.max(c, 1 - c), 12);
      expect(wasserstein1(uniform, [c])).toBeCloseTo((c * c + (1 - c) * (1 - c)) / 2, 12);
    }
    // Outside the support: a window at 2 is 1.5 away on average, and KS is 1.
    expect(wasserstein1(uniform, [2, 2])).toBeCloseTo(1.5, 12);
    expect(ksStatistic(uniform, [2])).toBe(1);
    // The window {0.25, 0.75}: F − F_n peaks at 0.25 just below each point.
    expect(ksStatistic(uniform, [0.25, 0.75])).toBeCloseTo(0.25, 12);
  });

  it("agree with the exact two-sample statistics against a large reference", () => {
    const rng = createRng(11);
    const reference = normals(50_000, rng);
    const profile = buildNumericProfile(reference);
    for (const shift of [0, 0.5, 1]) {
      const window = normals(200, rng, shift);
      expect(Math.abs(ksStatistic(profile, window) - exactKs(reference, window))).toBeLessThan(0.015);
      expect(Math.abs(wasserstein1(profile, window) - exactWasserstein(reference, window))).toBeLessThan(
        0.02,
      );
    }
    // A large shifted window is the shift away.
    expect(wasserstein1(profile, normals(50_000, rng, 1))).toBeCloseTo(1, 1);
  });

  it("stay in range: 0 ≤ KS ≤ 1, and W1 ≥ the difference of the means (Jensen)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 2, maxLength: 200 }),
        fc.array(fc.double({ min: -150, max: 150, noNaN: true }), { minLength: 1, maxLength: 100 }),
        (reference, window) => {
          const profile = buildNumericProfile(reference);
          const ks = ksStatistic(profile, window);
          expect(ks).toBeGreaterThanOrEqual(0);
          expect(ks).toBeLessThanOrEqual(1);
          // The sketch's mean is the trapezoid rule over its quantile points.
          const q = profile.quantiles;
          let sketchMean = 0;
          for (let i = 0; i + 1 < q.length; i++) sketchMean += ((q[i] as number) + (q[i + 1] as number)) / 2;
          sketchMean /= q.length - 1;
          const windowMean = window.reduce((s, v) => s + v, 0) / window.length;
          expect(wasserstein1(profile, window)).toBeGreaterThanOrEqual(
            Math.abs(sketchMean - windowMean) - 1e-9,
          );
        },
      ),
      { numRuns: 300, seed: 13 },
    );
  });

  it("skip missing values and refuse a window without any", () => {
    expect(ksStatistic(uniform, [0.5, Number.NaN, null])).toBeCloseTo(0.5, 12);
    expect(() => wasserstein1(uniform, [Number.NaN])).toThrow(
      expect.objectContaining({ code: "VALIDATION_FAILED" }),
    );
  });
});

describe("numericDrift and categoricalDrift", () => {
  it("grow with the size of a mean shift", () => {
    const rng = createRng(4);
    const profile = buildNumericProfile(normals(10_000, rng));
    const at = (shift: number) => numericDrift(profile, normals(2_000, createRng(5), shift));
    const none = at(0);
    const big = at(1);
    for (const key of ["psi", "ks", "jensenShannon", "wasserstein"] as const)
      expect(big[key]).toBeGreaterThan(5 * none[key]);
    expect(big.chiSquare.pValue).toBeLessThan(1e-10);
    expect(none.chiSquare.pValue).toBeGreaterThan(0.001);
  });

  it("compares category frequencies through the profile's top K and __other__", () => {
    const reference = [...new Array(60).fill("a"), ...new Array(30).fill("b"), ...new Array(10).fill("c")];
    const profile = buildCategoricalProfile(reference, { topK: 2 });
    const same = categoricalDrift(profile, reference);
    expect(same.psi).toBeCloseTo(0, 14);
    expect(same.jensenShannon).toBeCloseTo(0, 7);
    const shifted = categoricalDrift(profile, [...new Array(30).fill("a"), ...new Array(70).fill("d")]);
    // window: a 0.3, b 0, other 0.7 against 0.6, 0.3, 0.1
    const expected = psi([0.6, 0.3, 0.1], [0.3, 0, 0.7]);
    expect(shifted.psi).toBeCloseTo(expected, 14);
    expect(shifted.chiSquare.df).toBe(2);
  });
});
