import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Alternative, dieboldMariano, mannWhitney } from "./index.js";

const fixture = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as T;

interface DmFixture {
  versions: { R: string; forecast: string };
  series: { name: string; e1: number[]; e2: number[] }[];
  cases: {
    series: string;
    h: number;
    power: number;
    alternative: Alternative;
    varestimator: "acf" | "bartlett";
    statistic: number;
    p_value: number;
    fell_back_to_h1: boolean;
  }[];
}

interface WilcoxFixture {
  samples: { name: string; x: number[]; y: number[] }[];
  cases: {
    sample: string;
    alternative: Alternative;
    correct: boolean;
    exact: boolean;
    statistic: number;
    p_value: number;
  }[];
}

const close = (actual: number, expected: number, tol = 1e-8): void => {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(expected)));
};

describe("dieboldMariano against forecast::dm.test", () => {
  const dm = fixture<DmFixture>("dm.json");
  const series = new Map(dm.series.map((s) => [s.name, s]));

  it("covers h = 1..3, power 1 and 2, every alternative, both variance estimators and the h = 1 fallback", () => {
    expect(dm.cases.length).toBe(576);
    expect(new Set(dm.cases.map((c) => c.h))).toEqual(new Set([1, 2, 3]));
    expect(dm.cases.some((c) => c.fell_back_to_h1)).toBe(true);
  });

  it("matches R's statistic and p-value to 1e-8 in every case", () => {
    let fallbacks = 0;
    for (const c of dm.cases) {
      const s = series.get(c.series)!;
      const r = dieboldMariano(s.e1, s.e2, {
        h: c.h,
        power: c.power,
        alternative: c.alternative,
        varianceEstimator: c.varestimator,
      });
      close(r.statistic, c.statistic);
      close(r.pValue, c.p_value);
      expect(r.df).toBe(s.e1.length - 1);
      if (c.fell_back_to_h1) {
        expect(r.horizon).toBe(1);
        fallbacks++;
      } else expect(r.horizon).toBe(c.h);
    }
    expect(fallbacks).toBe(dm.cases.filter((c) => c.fell_back_to_h1).length);
  });

  it("is antisymmetric in the two error series and its one-sided p-values add to 1", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 6, maxLength: 40 }),
        fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 6, maxLength: 40 }),
        fc.integer({ min: 1, max: 3 }),
        (a, b, h) => {
          const n = Math.min(a.length, b.length);
          const e1 = a.slice(0, n);
          const e2 = b.slice(0, n);
          let r: ReturnType<typeof dieboldMariano>;
          try {
            r = dieboldMariano(e1, e2, { h, alternative: "less" });
          } catch {
            return; // zero variance of the loss differences: refused, as R stops
          }
          const swapped = dieboldMariano(e2, e1, { h, alternative: "less" });
          expect(swapped.statistic).toBeCloseTo(-r.statistic, 10);
          const greater = dieboldMariano(e1, e2, { h, alternative: "greater" });
          expect(r.pValue + greater.pValue).toBeCloseTo(1, 12);
        },
      ),
      { numRuns: 200, seed: 42 },
    );
  });

  it("refuses identical errors (zero variance) and series no longer than h with VALIDATION_FAILED", () => {
    expect(() => dieboldMariano([1, 2, 3], [1, 2, 3])).toThrow(
      expect.objectContaining({ code: "VALIDATION_FAILED" }),
    );
    expect(() => dieboldMariano([1, 2], [2, 1], { h: 2 })).toThrow(
      expect.objectContaining({ code: "VALIDATION_FAILED" }),
    );
    expect(() => dieboldMariano([1, 2, Number.NaN], [2, 1, 0])).toThrow(
      expect.objectContaining({ code: "VALIDATION_FAILED" }),
    );
  });
});

describe("mannWhitney against R's wilcox.test", () => {
  const wx = fixture<WilcoxFixture>("wilcox.json");
  const samples = new Map(wx.samples.map((s) => [s.name, s]));

  it("matches W and the p-value (normal approximation with and without correction, and exact) to 1e-8", () => {
    expect(wx.cases.some((c) => c.exact)).toBe(true);
    for (const c of wx.cases) {
      const s = samples.get(c.sample)!;
      const r = mannWhitney(s.x, s.y, { alternative: c.alternative, correct: c.correct, exact: c.exact });
      expect(r.statistic).toBe(c.statistic);
      expect(r.exact).toBe(c.exact);
      close(r.pValue, c.p_value);
    }
  });

  it("Cliff's delta counts dominance pairs and stays in [-1, 1]", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 30 }),
        (x, y) => {
          let dominance = 0;
          for (const a of x) for (const b of y) dominance += Math.sign(a - b);
          const r = mannWhitney(x, y);
          expect(r.effect).toBeCloseTo(dominance / (x.length * y.length), 12);
          expect(Math.abs(r.effect)).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 200, seed: 3 },
    );
  });

  it("calls a significant but negligible latency difference negligible, a large one x_smaller", () => {
    // 20,000 latencies each; y is 1 % slower: significant, but Cliff's delta is far below 0.147.
    const x = Array.from({ length: 20_000 }, (_, i) => 100 + (i % 1000) / 10);
    const y = x.map((v) => v * 1.01);
    const small = mannWhitney(x, y);
    expect(small.pValue).toBeLessThan(0.05);
    expect(Math.abs(small.effect)).toBeLessThan(0.147);
    expect(small.conclusion).toBe("negligible");
    const big = mannWhitney(
      x,
      x.map((v) => v * 1.3),
    );
    expect(big.conclusion).toBe("x_smaller");
    expect(mannWhitney([1, 2, 3], [1, 2, 3]).conclusion).toBe("no_difference");
  });
});
