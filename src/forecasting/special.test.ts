import { describe, expect, it } from "vitest";
import { countQuantile, fitNegBinSize, sortedQuantile } from "./distributions.js";
import { leastSquares } from "./linalg.js";
import { minimizeScalar, nelderMead } from "./optim.js";
import { incompleteBeta, lgamma, qnorm, qt } from "./special.js";

// Reference values from R 4.2.2.
describe("special functions agree with R", () => {
  it("qnorm", () => {
    const cases: [number, number][] = [
      [0.975, 1.9599639845400536],
      [0.9, 1.2815515655446008],
      [0.5, 0],
      [1e-10, -6.361340902404056],
      [0.3, -0.5244005127080407],
      [0.999999, 4.753424308817089],
    ];
    for (const [p, q] of cases) expect(qnorm(p)).toBeCloseTo(q, 14);
  });

  it("qt", () => {
    expect(qt(0.9, 5)).toBeCloseTo(1.4758840488244804, 11);
    expect(qt(0.975, 5)).toBeCloseTo(2.5705818356363137, 11);
    expect(qt(0.025, 5)).toBeCloseTo(-2.570581835636315, 11);
    expect(qt(0.6, 5)).toBeCloseTo(0.2671808657041452, 11);
    expect(qt(0.975, 1)).toBeCloseTo(12.706204736174694, 10);
    expect(qt(0.975, 2)).toBeCloseTo(4.302652729749462, 11);
    expect(qt(0.975, 3)).toBeCloseTo(3.1824463052837078, 11);
    expect(qt(0.975, 30)).toBeCloseTo(2.0422724563012378, 11);
    expect(qt(0.975, 38)).toBeCloseTo(2.0243941639119694, 11);
  });

  it("lgamma and the incomplete beta", () => {
    expect(lgamma(0.5)).toBeCloseTo(0.5723649429247001, 13);
    expect(lgamma(10.3)).toBeCloseTo(13.482036786138359, 12);
    expect(lgamma(1e-3)).toBeCloseTo(6.907178885383853, 12);
    expect(incompleteBeta(0.3, 2.5, 4)).toBeCloseTo(0.35219758590676714, 13);
  });

  it("negative binomial and Poisson quantiles (qnbinom, qpois)", () => {
    expect([0.1, 0.5, 0.9, 0.99].map((p) => countQuantile(p, 1.2, 0.5))).toEqual([0, 0, 4, 9]);
    expect([0.1, 0.5, 0.9].map((p) => countQuantile(p, 5000, 2))).toEqual([1329, 4196, 9725]);
    expect([0.1, 0.5, 0.9].map((p) => countQuantile(p, 0.3, Number.POSITIVE_INFINITY))).toEqual([0, 0, 1]);
    expect([0.1, 0.5, 0.9].map((p) => countQuantile(p, 2500, Number.POSITIVE_INFINITY))).toEqual([
      2436, 2500, 2564,
    ]);
    expect([0.5, 0.95].map((p) => countQuantile(p, 0.2, 0.01))).toEqual([0, 0]);
    expect(countQuantile(0.9, 0, 1)).toBe(0);
  });

  it("sorted quantiles interpolate like R's type 7", () => {
    expect(sortedQuantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(sortedQuantile([1, 2, 3, 4], 0.1)).toBeCloseTo(1.3, 12);
  });
});

describe("negative binomial dispersion", () => {
  it("recovers overdispersion and falls back to Poisson without it", () => {
    // Alternating 0 and 4 around a mean of 2: variance 4 = 2 + 4/size, so size ≈ 2 by moments.
    const y = Float64Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? 0 : 4));
    const mu = new Float64Array(400).fill(2);
    const size = fitNegBinSize(y, mu);
    expect(size).toBeGreaterThan(0.5);
    expect(size).toBeLessThan(10);
    const flat = Float64Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? 1 : 2));
    expect(fitNegBinSize(flat, new Float64Array(100).fill(1.5))).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("optimisers", () => {
  it("Nelder-Mead minimises the Rosenbrock function (as R's optim)", () => {
    const rosen = (x: Float64Array) =>
      100 * ((x[1] as number) - (x[0] as number) ** 2) ** 2 + (1 - (x[0] as number)) ** 2;
    const r = nelderMead(rosen, [-1.2, 1], { maxit: 500 });
    // R: optim(c(-1.2, 1), fr) gives par 1.000260 1.000506, value 8.825241e-08, 195 evaluations.
    expect(r.x[0]).toBeCloseTo(1.00026, 5);
    expect(r.x[1]).toBeCloseTo(1.000506, 5);
    expect(r.evaluations).toBe(195);
    expect(r.converged).toBe(true);
  });

  it("Brent finds a one-dimensional minimum", () => {
    const r = minimizeScalar((x) => (x - 2) ** 2 + 1, 0, 5, 1e-10);
    expect(r.x).toBeCloseTo(2, 6);
    expect(r.value).toBeCloseTo(1, 10);
  });

  it("least squares solves a small regression", () => {
    // y = 1 + 2x on x = 1..4, column-major design.
    const coef = leastSquares(Float64Array.of(1, 1, 1, 1, 1, 2, 3, 4), 4, 2, [3, 5, 7, 9]);
    expect(coef?.[0]).toBeCloseTo(1, 12);
    expect(coef?.[1]).toBeCloseTo(2, 12);
    expect(leastSquares(Float64Array.of(1, 1, 2, 2), 2, 2, [1, 2])).toBeUndefined();
  });
});
