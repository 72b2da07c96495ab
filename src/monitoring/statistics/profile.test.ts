import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  buildCategoricalProfile,
  buildNumericProfile,
  createRng,
  OTHER_CATEGORY,
  profileCdf,
  profileQuantile,
  summariseCategoricalWindow,
  summariseNumericWindow,
} from "./index.js";

const normals = (n: number, seed: number, mean = 0, sd = 1): Float64Array => {
  const rng = createRng(seed);
  return Float64Array.from({ length: n }, () => mean + sd * rng.normal());
};

describe("createRng", () => {
  it("repeats its stream for a seed and differs between seeds", () => {
    const a = createRng(1);
    const b = createRng(1);
    const c = createRng(2);
    const xs = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs);
  });

  it("draws uniforms with mean 1/2 and normals with mean 0 and variance 1", () => {
    const rng = createRng(99);
    let su = 0;
    let sz = 0;
    let szz = 0;
    let outside = 0;
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      if (!(u >= 0 && u < 1)) outside++;
      su += u;
      const z = rng.normal();
      sz += z;
      szz += z * z;
    }
    expect(outside).toBe(0);
    expect(Math.abs(su / n - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(sz / n)).toBeLessThan(4 / Math.sqrt(n));
    expect(Math.abs(szz / n - 1)).toBeLessThan(4 * Math.sqrt(2 / n));
  });
});

describe("buildNumericProfile", () => {
  it("keeps R's type-7 quantiles, moments and the missing fraction", () => {
    const p = buildNumericProfile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, Number.NaN, null], { quantilePoints: 5 });
    // R: quantile(1:10, c(0, .25, .5, .75, 1)) = 1, 3.25, 5.5, 7.75, 10
    expect(p.quantiles).toEqual([1, 3.25, 5.5, 7.75, 10]);
    expect(p.count).toBe(12);
    expect(p.missingFraction).toBeCloseTo(2 / 12, 15);
    expect(p.mean).toBeCloseTo(5.5, 14);
    expect(p.sd).toBeCloseTo(3.0276503540974917, 14); // R: sd(1:10)
    expect(p.min).toBe(1);
    expect(p.max).toBe(10);
  });

  it("has a bounded JSON size whatever the sample size", () => {
    const small = JSON.stringify(buildNumericProfile(normals(200, 1))).length;
    const large = JSON.stringify(buildNumericProfile(normals(500_000, 2))).length;
    expect(large).toBeLessThan(4_000);
    expect(Math.abs(large - small)).toBeLessThan(400);
  });

  it("merges duplicate decile edges of intermittent data and keeps the zeros in the first, right-closed bin", () => {
    const sample = [...new Array(70).fill(0), ...new Array(20).fill(1), ...new Array(10).fill(3)];
    const p = buildNumericProfile(sample);
    expect(p.binEdges).toEqual([0, 1]); // type-1 deciles: 0 seven times, then 1, 1
    expect(p.binFractions).toEqual([0.7, 0.2, 0.1]);
    const w = summariseNumericWindow(p, [0, 0, 1, 2, 5, -1, Number.NaN]);
    expect(w.binCounts).toEqual([3, 1, 2]);
    expect(w.missingFraction).toBeCloseTo(1 / 7, 15);
    expect(w.belowReference).toBeCloseTo(1 / 6, 15);
    expect(w.aboveReference).toBeCloseTo(1 / 6, 15);
  });

  it("gives a CDF that inverts the quantile function and counts point masses", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 2, maxLength: 300 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (sample, p) => {
          const profile = buildNumericProfile(sample);
          const x = profileQuantile(profile, p);
          // F(Q(p)−) ≤ p ≤ F(Q(p)) for a right-continuous F.
          expect(profileCdf(profile, x, true)).toBeLessThanOrEqual(p + 1e-9);
          expect(profileCdf(profile, x)).toBeGreaterThanOrEqual(p - 1e-9);
          const summary = summariseNumericWindow(profile, sample);
          // Right-closed bins, counted the slow way.
          const brute = new Array<number>(profile.binEdges.length + 1).fill(0);
          for (const v of sample) {
            const b = profile.binEdges.filter((e) => e < v).length;
            brute[b] = (brute[b] as number) + 1;
          }
          expect(summary.binCounts).toEqual(brute);
        },
      ),
      { numRuns: 300, seed: 5 },
    );
    const p = buildNumericProfile([...new Array(50).fill(0), ...Array.from({ length: 50 }, (_, i) => i + 1)]);
    expect(profileCdf(p, 0, true)).toBe(0);
    expect(profileCdf(p, 0)).toBeCloseTo(0.49, 12); // quantiles up to p = 0.49 are 0
  });

  it("refuses an empty sample and bad options with VALIDATION_FAILED", () => {
    const code = expect.objectContaining({ code: "VALIDATION_FAILED" });
    expect(() => buildNumericProfile([Number.NaN, null])).toThrow(code);
    expect(() => buildNumericProfile([1, 2], { quantilePoints: 1 })).toThrow(code);
    expect(() => buildNumericProfile([1, 2], { bins: 0 })).toThrow(code);
  });
});

describe("buildCategoricalProfile", () => {
  it("keeps the top K categories (ties by value) and pools the rest as __other__", () => {
    const sample = ["b", "a", "c", "a", "b", "d", "e", null, "a"];
    const p = buildCategoricalProfile(sample, { topK: 2 });
    expect(p.categories).toEqual([
      { value: "a", fraction: 3 / 8 },
      { value: "b", fraction: 2 / 8 },
    ]);
    expect(p.otherFraction).toBeCloseTo(3 / 8, 15);
    expect(p.missingFraction).toBeCloseTo(1 / 9, 15);
    expect(p.distinct).toBe(5);
    const w = summariseCategoricalWindow(p, ["a", "z", "c", undefined]);
    expect(w.counts).toEqual([1, 0, 2]);
    expect(w.unseen).toBe(0); // the profile pooled categories, so "z" may be one of them
  });

  it("counts unseen values when the profile kept every category", () => {
    const p = buildCategoricalProfile(["x", "y", "x"]);
    expect(summariseCategoricalWindow(p, ["x", "new", "y", "new"])).toEqual({
      count: 4,
      missingFraction: 0,
      counts: [1, 1, 2],
      unseen: 2,
    });
    expect(() => buildCategoricalProfile([OTHER_CATEGORY])).toThrow(
      expect.objectContaining({ code: "VALIDATION_FAILED" }),
    );
  });
});
