/**
 * Per-model drift thresholds. A fixed cut-off (PSI 0.1) ignores the window size: on 100-point windows drawn
 * from the very distribution of the reference, sampling noise alone pushes PSI past 0.1 much of the time.
 * Instead, draw `resamples` windows of the monitored size n from the model's own reference sample (bootstrap,
 * with replacement, seeded), compute the statistic of each against the reference profile, and take the
 * (1 − α) quantile of that null distribution as the threshold: a window whose statistic exceeds it is then a
 * false alarm with probability about α when nothing has changed. See README.md ("Calibration").
 */
import { invalid, requirePositiveInteger, requireProbability } from "./checks.js";
import { createRng } from "./random.js";

export interface CalibrationOptions {
  /** Size of the windows that will be monitored. */
  windowSize: number;
  /** Target false-alarm rate per window, e.g. 0.01. */
  alpha: number;
  /** Bootstrap resamples B; default 1,000. The threshold is an order statistic, so B ≥ 10/α is advisable. */
  resamples?: number;
  /** Seed of the resampling; the same seed gives the same threshold. */
  seed: number;
}

export interface Calibration {
  /** Fire when the statistic is strictly greater than this. */
  threshold: number;
  alpha: number;
  windowSize: number;
  resamples: number;
  seed: number;
  /** The null distribution's median, 90, 95 and 99 % quantiles, for the record. */
  nullQuantiles: { p50: number; p90: number; p95: number; p99: number };
}

/**
 * The (1 − α) bootstrap threshold of `statistic` for windows of `windowSize` values resampled from `reference`.
 * The threshold is the k-th smallest of the B resampled statistics with k = ⌈(1 − α)(B + 1)⌉ (capped at B),
 * the usual conservative order statistic for a Monte Carlo critical value.
 *
 * @example
 * const profile = buildNumericProfile(reference);
 * const cal = calibrateThreshold(reference, (w) => numericDrift(profile, w).psi,
 *   { windowSize: 100, alpha: 0.01, resamples: 2000, seed: 7 });
 * const alarm = numericDrift(profile, window).psi > cal.threshold;
 */
export function calibrateThreshold<T>(
  reference: ArrayLike<T>,
  statistic: (window: T[]) => number,
  options: CalibrationOptions,
): Calibration {
  const { windowSize, alpha, seed } = options;
  const resamples = options.resamples ?? 1000;
  requirePositiveInteger("windowSize", windowSize);
  requirePositiveInteger("resamples", resamples);
  requireProbability("alpha", alpha);
  if (reference.length === 0) throw invalid("reference", "is empty");
  const rng = createRng(seed);
  const values = new Float64Array(resamples);
  const window = new Array<T>(windowSize);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < windowSize; i++) window[i] = reference[rng.int(reference.length)] as T;
    const s = statistic(window);
    if (Number.isNaN(s)) throw invalid("statistic", `returned NaN on resample ${b}`);
    values[b] = s;
  }
  values.sort();
  const k = Math.min(resamples, Math.ceil((1 - alpha) * (resamples + 1)));
  const at = (p: number): number => values[Math.min(resamples - 1, Math.floor(p * resamples))] as number;
  return {
    threshold: values[k - 1] as number,
    alpha,
    windowSize,
    resamples,
    seed,
    nullQuantiles: { p50: at(0.5), p90: at(0.9), p95: at(0.95), p99: at(0.99) },
  };
}
