import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildNumericProfile, createRng } from "../statistics/index.js";
import {
  calibrate,
  evaluateChecks,
  type ModelMonitoringData,
  parseChecksConfig,
  resolveChecks,
} from "./index.js";

/**
 * When nothing changed (the window comes from the reference's own distribution) a calibrated check fires at
 * about its α, whatever the statistic, the distribution's shape and the seed.
 */
const ALPHA = 0.05;
const WINDOWS = 300;
const RESAMPLES = 600;
// Binomial noise of the measured rate plus the bootstrap quantile's, at about 4 sd, and the bootstrap's small
// liberal bias for a reference of 20 windows (statistics README: 7 % at α = 5 % from 500 values).
const UPPER = ALPHA + 4 * Math.sqrt(ALPHA * (1 - ALPHA) * (1 / WINDOWS + 1 / RESAMPLES)) + 0.02;

function rate(results: { outcome: string }[][]): number {
  return results.filter((r) => r[0]?.outcome === "violated").length / results.length;
}

describe("calibrated checks on unchanged data", () => {
  it("drift checks fire at about alpha", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.constantFrom("psi", "ks", "wasserstein", "js"),
        fc.constantFrom("normal", "skewed", "counts"),
        async (seed, statistic, shape) => {
          const rng = createRng(seed);
          const draw = (): number =>
            shape === "normal"
              ? rng.normal()
              : shape === "skewed"
                ? Math.exp(rng.normal())
                : Math.floor(-Math.log(1 - rng.next()) * 1.5);
          const sample = Array.from({ length: 1000 }, draw);
          const checks = resolveChecks(
            parseChecksConfig({
              defaults: { alpha: ALPHA, resamples: RESAMPLES, seed },
              checks: [{ id: "d", kind: "drift", target: "prediction", statistic, windowSize: 50 }],
            }),
          );
          const reference = { prediction: { profile: buildNumericProfile(sample), sample } };
          const calibration = calibrate(checks, reference);
          const results: { outcome: string }[][] = [];
          for (let w = 0; w < WINDOWS; w++) {
            const window = Array.from({ length: 50 }, draw);
            const data: ModelMonitoringData = {
              model: "m",
              kind: "regression",
              reference,
              observations: { prediction: window, actual: window },
            };
            results.push(await evaluateChecks(checks, data, { calibration }));
          }
          const r = rate(results);
          expect(r).toBeLessThanOrEqual(UPPER);
          expect(r).toBeGreaterThanOrEqual(0.005);
        },
      ),
      { numRuns: 4, seed: 20261203 },
    );
  }, 60_000);

  it("change checks raise a false alarm within the horizon at about alpha", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.constantFrom("cusum", "page-hinkley"),
        async (seed, detector) => {
          const rng = createRng(seed);
          // Validation errors of a model, and later errors from the same distribution: 200 of them, so that the
          // bootstrap of the scale is not the story here.
          const validationErrors = Array.from({ length: 200 }, () => rng.normal() * 2 + 0.3);
          const checks = resolveChecks(
            parseChecksConfig({
              defaults: { alpha: ALPHA, resamples: RESAMPLES, seed },
              checks: [{ id: "c", kind: "change", detector, horizon: 12, lookback: 12 }],
            }),
          );
          const reference = { validationErrors };
          const calibration = calibrate(checks, reference);
          const results: { outcome: string }[][] = [];
          for (let w = 0; w < WINDOWS; w++) {
            const errors = Array.from({ length: 12 }, () => rng.normal() * 2 + 0.3);
            const data: ModelMonitoringData = {
              model: "m",
              kind: "forecast",
              reference,
              observations: { prediction: errors.map(() => 0), actual: errors },
            };
            results.push(await evaluateChecks(checks, data, { calibration }));
          }
          const r = rate(results);
          expect(r).toBeLessThanOrEqual(UPPER);
          expect(r).toBeGreaterThanOrEqual(0.005);
        },
      ),
      { numRuns: 4, seed: 20261203 },
    );
  }, 60_000);
});
