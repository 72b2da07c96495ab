import { describe, expect, it } from "vitest";
import {
  buildCategoricalProfile,
  buildNumericProfile,
  calibrateThreshold,
  categoricalDrift,
  createRng,
  type NumericDrift,
  numericDrift,
} from "./index.js";

/**
 * The point of calibration (issue 8): on small windows drawn from the reference's own distribution a fixed
 * PSI cut-off fires often, a threshold calibrated per model fires at about α, and a real shift is still found.
 */
const WINDOW = 100;
const WINDOWS = 2_000;
const B = 2_000;
const ALPHA = 0.05;
// Binomial noise of the measured rate plus the Monte Carlo noise of the bootstrap quantile, at 4 sd.
const TOLERANCE = 4 * Math.sqrt(ALPHA * (1 - ALPHA) * (1 / WINDOWS + 1 / B));

const rng = createRng(2026);
const normal = (n: number, mean = 0): Float64Array =>
  Float64Array.from({ length: n }, () => mean + rng.normal());
const reference = normal(1_000);
const same = Array.from({ length: WINDOWS }, () => normal(WINDOW));
const shifted = Array.from({ length: WINDOWS }, () => normal(WINDOW, 1));

const driftFor =
  (key: "psi" | "ks" | "wasserstein" | "jensenShannon") =>
  (ref: ArrayLike<number>): ((w: ArrayLike<number>) => number) => {
    const profile = buildNumericProfile(ref);
    return (w) => (numericDrift(profile, w) as NumericDrift)[key];
  };

const rate = (windows: Float64Array[], statistic: (w: Float64Array) => number, threshold: number): number =>
  windows.filter((w) => statistic(w) > threshold).length / windows.length;

describe("calibrateThreshold on numeric windows of 100 values", () => {
  it("shows that a fixed PSI of 0.1 fires on a large share of windows from the same distribution", () => {
    const psi = driftFor("psi")(reference);
    const fixed = rate(same, psi, 0.1);
    // Measured 0.50 (bins from a 1,000-value reference): PSI ≈ χ²₉/n under the null, P(χ²₉ > 10) ≈ 0.35, and
    // the reference's own sampling error adds to it.
    expect(fixed).toBeGreaterThan(0.3);
    expect(rate(same, psi, 0.25)).toBeLessThan(0.03); // 0.25 is quiet here, and so blind to moderate shifts
  });

  for (const key of ["psi", "ks", "wasserstein"] as const) {
    it(`calibrates ${key} to fire at about α = ${ALPHA} on the same distribution and on ≥ 99 % of 1-sd shifts`, () => {
      const statisticFor = driftFor(key);
      const cal = calibrateThreshold(reference, statisticFor, {
        windowSize: WINDOW,
        alpha: ALPHA,
        resamples: B,
        seed: 1,
      });
      const statistic = statisticFor(reference);
      expect(Math.abs(rate(same, statistic, cal.threshold) - ALPHA)).toBeLessThanOrEqual(TOLERANCE);
      expect(rate(shifted, statistic, cal.threshold)).toBeGreaterThanOrEqual(0.99);
      expect(cal.nullQuantiles.p95).toBeLessThanOrEqual(cal.threshold);
    });
  }

  it("needs the reference resampled too when the reference is small (500 values)", () => {
    const small = reference.subarray(0, 500);
    const statisticFor = driftFor("psi");
    const statistic = statisticFor(small);
    const options = { windowSize: WINDOW, alpha: ALPHA, resamples: 1_000, seed: 3 };
    const both = calibrateThreshold(small, statisticFor, options);
    const windowsOnly = calibrateThreshold(small, statisticFor, { ...options, resampleReference: false });
    expect(both.resampleReference).toBe(true);
    // Resampling windows only ignores the reference's own sampling error: measured 10 % false alarms (7 %
    // with the reference resampled too).
    expect(rate(same, statistic, windowsOnly.threshold)).toBeGreaterThan(ALPHA + TOLERANCE);
    expect(Math.abs(rate(same, statistic, both.threshold) - ALPHA)).toBeLessThanOrEqual(
      4 * Math.sqrt(ALPHA * (1 - ALPHA) * (1 / WINDOWS + 1 / 1_000)),
    );
  });

  it("stays at or below α on discrete, intermittent data (ties make the statistic coarse)", () => {
    const draw = (): number => (rng.next() < 0.7 ? 0 : 1 + rng.int(4));
    const ref = Float64Array.from({ length: 2_000 }, draw);
    const windows = Array.from({ length: WINDOWS }, () => Float64Array.from({ length: WINDOW }, draw));
    const statisticFor = driftFor("psi");
    const cal = calibrateThreshold(ref, statisticFor, {
      windowSize: WINDOW,
      alpha: ALPHA,
      resamples: B,
      seed: 5,
    });
    expect(rate(windows, statisticFor(ref), cal.threshold)).toBeLessThanOrEqual(ALPHA + TOLERANCE);
  });

  it("is deterministic for a seed and refuses bad options with VALIDATION_FAILED", () => {
    const statisticFor = driftFor("ks");
    const options = { windowSize: 50, alpha: 0.1, resamples: 200, seed: 9 };
    const a = calibrateThreshold(reference, statisticFor, options);
    expect(calibrateThreshold(reference, statisticFor, options)).toEqual(a);
    expect(calibrateThreshold(reference, statisticFor, { ...options, seed: 10 }).threshold).not.toBe(
      a.threshold,
    );
    const code = expect.objectContaining({ code: "VALIDATION_FAILED" });
    expect(() => calibrateThreshold(reference, statisticFor, { ...options, alpha: 1 })).toThrow(code);
    expect(() => calibrateThreshold(reference, statisticFor, { ...options, windowSize: 0 })).toThrow(code);
    expect(() => calibrateThreshold([], statisticFor, options)).toThrow(code);
    // The reference is redrawn by default only when it holds fewer than 50 windows' worth of values.
    expect(a.resampleReference).toBe(true); // 1,000 values, windows of 50
    const big = calibrateThreshold(reference, statisticFor, { ...options, windowSize: 20 });
    expect(big.resampleReference).toBe(false); // 1,000 values, windows of 20
    expect(
      calibrateThreshold(reference, statisticFor, { ...options, windowSize: 20, resampleReference: true }),
    ).toMatchObject({ resampleReference: true });
  });
});

describe("calibrateThreshold on categorical windows", () => {
  it("fires at about α on the same frequencies and finds a swap of two categories' shares", () => {
    const cats = ["a", "b", "c", "d", "e"];
    const weights = [0.4, 0.25, 0.15, 0.12, 0.08];
    const draw = (w: number[]): string => {
      let u = rng.next();
      for (let i = 0; i < w.length; i++) {
        u -= w[i] as number;
        if (u < 0) return cats[i] as string;
      }
      return cats[cats.length - 1] as string;
    };
    const ref = Array.from({ length: 1_000 }, () => draw(weights));
    const psiFor = (r: ArrayLike<string>) => {
      const profile = buildCategoricalProfile(r);
      return (w: ArrayLike<string>) => categoricalDrift(profile, w).psi;
    };
    const cal = calibrateThreshold(ref, psiFor, { windowSize: WINDOW, alpha: ALPHA, resamples: B, seed: 8 });
    const psi = psiFor(ref);
    const sameRate =
      Array.from({ length: WINDOWS }, () => Array.from({ length: WINDOW }, () => draw(weights))).filter(
        (w) => psi(w) > cal.threshold,
      ).length / WINDOWS;
    expect(Math.abs(sameRate - ALPHA)).toBeLessThanOrEqual(TOLERANCE);
    const swapped = [0.25, 0.4, 0.15, 0.12, 0.08];
    const power =
      Array.from({ length: 500 }, () => Array.from({ length: WINDOW }, () => draw(swapped))).filter(
        (w) => psi(w) > cal.threshold,
      ).length / 500;
    expect(power).toBeGreaterThan(0.5);
  });
});
