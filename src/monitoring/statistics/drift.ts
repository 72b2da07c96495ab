/**
 * Drift statistics between a reference (a profile) and a window. Each is a distance, 0 for identical
 * distributions and larger the more they differ; none is a test by itself: thresholds come from
 * `calibrateThreshold` (see README.md), because the textbook cut-offs ignore the window size.
 */
import { invalid, requireSameLength, sortedFinite } from "./checks.js";
import { pchisqUpper } from "./distributions.js";
import {
  type CategoricalProfile,
  categoricalFractions,
  type NumericProfile,
  profileCdf,
  profileQuantile,
  summariseCategoricalWindow,
  summariseSorted,
} from "./profile.js";

/** Floor for an empty bin's proportion in PSI (and for a zero-probability bin in the chi-square statistic). */
export const DRIFT_EPSILON = 1e-4;

function normalise(values: ArrayLike<number>, path: string): Float64Array {
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!(v >= 0) || !Number.isFinite(v))
      throw invalid(`${path}/${i}`, `must be a finite count ≥ 0, got ${v}`);
    total += v;
  }
  if (!(total > 0)) throw invalid(path, "holds no mass");
  return Float64Array.from(values as ArrayLike<number>, (v) => v / total);
}

/**
 * Population stability index Σ (aᵢ − eᵢ)·ln(aᵢ/eᵢ) over bins, from counts or fractions (each side is
 * normalised). An empty bin's proportion is raised to `epsilon` (default 1e-4) on either side, without
 * renormalising, so a bin that empties or fills contributes a large but finite term.
 */
export function psi(expected: ArrayLike<number>, actual: ArrayLike<number>, epsilon = DRIFT_EPSILON): number {
  requireSameLength("actual", expected, actual);
  const e = normalise(expected, "expected");
  const a = normalise(actual, "actual");
  let s = 0;
  for (let i = 0; i < e.length; i++) {
    const ei = Math.max(e[i] as number, epsilon);
    const ai = Math.max(a[i] as number, epsilon);
    s += (ai - ei) * Math.log(ai / ei);
  }
  return s;
}

/**
 * Jensen–Shannon distance: the square root of the JS divergence with base-2 logarithms, so it lies in [0, 1]
 * (1 for disjoint supports). Empty bins need no epsilon (0·log 0 = 0).
 */
export function jensenShannon(p: ArrayLike<number>, q: ArrayLike<number>): number {
  requireSameLength("q", p, q);
  const a = normalise(p, "p");
  const b = normalise(q, "q");
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    const m = (x + y) / 2;
    if (x > 0) d += 0.5 * x * Math.log2(x / m);
    if (y > 0) d += 0.5 * y * Math.log2(y / m);
  }
  return Math.sqrt(Math.max(0, d));
}

export interface ChiSquareResult {
  statistic: number;
  df: number;
  pValue: number;
}

/**
 * Pearson's goodness-of-fit chi-square of observed counts against reference probabilities, Σ (O − E)²/E with
 * E = n·p (R's `chisq.test(x, p = p)`). The reference is treated as known (it is large next to the window).
 * Bins with p = 0 are dropped when empty and given p = `epsilon` when not; df = bins used − 1.
 */
export function chiSquare(
  probabilities: ArrayLike<number>,
  observed: ArrayLike<number>,
  epsilon = DRIFT_EPSILON,
): ChiSquareResult {
  requireSameLength("observed", probabilities, observed);
  const p = normalise(probabilities, "probabilities");
  let n = 0;
  for (let i = 0; i < observed.length; i++) {
    const o = observed[i] as number;
    if (!(o >= 0) || !Number.isFinite(o)) throw invalid(`observed/${i}`, `must be a count ≥ 0, got ${o}`);
    n += o;
  }
  if (n === 0) throw invalid("observed", "holds no counts");
  let statistic = 0;
  let bins = 0;
  for (let i = 0; i < p.length; i++) {
    const o = observed[i] as number;
    let pi = p[i] as number;
    if (pi === 0) {
      if (o === 0) continue;
      pi = epsilon;
    }
    const e = n * pi;
    statistic += ((o - e) * (o - e)) / e;
    bins++;
  }
  const df = bins - 1;
  return { statistic, df, pValue: df > 0 ? pchisqUpper(statistic, df) : Number.NaN };
}

/**
 * Kolmogorov–Smirnov statistic sup |F_ref(x) − F_win(x)| between the profile's distribution function (the
 * inverse of its piecewise-linear quantile sketch) and the window's empirical one. Missing values are skipped.
 */
export function ksStatistic(profile: NumericProfile, window: ArrayLike<number | null | undefined>): number {
  return ksSorted(profile, sortedFinite(window));
}

function ksSorted(profile: NumericProfile, x: Float64Array): number {
  const n = x.length;
  if (n === 0) throw invalid("window", "holds no finite value");
  let d = 0;
  let i = 0;
  while (i < n) {
    const v = x[i] as number;
    let j = i + 1;
    while (j < n && x[j] === v) j++;
    // Just below v the window's CDF is i/n; at v it is j/n.
    d = Math.max(d, profileCdf(profile, v, true) - i / n, j / n - profileCdf(profile, v));
    d = Math.max(d, i / n - profileCdf(profile, v, true), profileCdf(profile, v) - j / n);
    i = j;
  }
  return d;
}

/**
 * Wasserstein-1 (earth mover's) distance ∫₀¹ |Q_ref(u) − Q_win(u)| du between the profile's quantile function
 * (linear between its points) and the window's empirical quantile function, integrated exactly. In the
 * feature's units; divide by `profile.sd` for a scale-free figure.
 */
export function wasserstein1(profile: NumericProfile, window: ArrayLike<number | null | undefined>): number {
  return wassersteinSorted(profile, sortedFinite(window));
}

function wassersteinSorted(profile: NumericProfile, x: Float64Array): number {
  const n = x.length;
  if (n === 0) throw invalid("window", "holds no finite value");
  const last = profile.quantiles.length - 1;
  let total = 0;
  let u0 = 0;
  let j = 1; // next profile breakpoint j/last
  let i = 1; // next window breakpoint i/n
  while (u0 < 1) {
    const uj = j / last;
    const ui = i / n;
    const u1 = Math.min(uj, ui);
    if (u1 > u0) {
      const c = x[i - 1] as number;
      const a = profileQuantile(profile, u0) - c;
      const b = profileQuantile(profile, u1) - c;
      const w = u1 - u0;
      total += a * b >= 0 ? (w * Math.abs(a + b)) / 2 : (w * (a * a + b * b)) / (2 * Math.abs(b - a));
    }
    if (uj <= ui) j++;
    if (ui <= uj) i++;
    u0 = u1;
    if (j > last && i > n) break;
  }
  return total;
}

export interface NumericDrift {
  psi: number;
  ks: number;
  chiSquare: ChiSquareResult;
  jensenShannon: number;
  wasserstein: number;
}

/** Every drift statistic of a numeric window against its profile (PSI, χ² and JS on the profile's bins). */
export function numericDrift(
  profile: NumericProfile,
  window: ArrayLike<number | null | undefined>,
  epsilon = DRIFT_EPSILON,
): NumericDrift {
  const sorted = sortedFinite(window);
  const summary = summariseSorted(profile, sorted, window.length);
  return {
    psi: psi(profile.binFractions, summary.binCounts, epsilon),
    ks: ksSorted(profile, sorted),
    chiSquare: chiSquare(profile.binFractions, summary.binCounts, epsilon),
    jensenShannon: jensenShannon(profile.binFractions, summary.binCounts),
    wasserstein: wassersteinSorted(profile, sorted),
  };
}

export interface CategoricalDrift {
  psi: number;
  chiSquare: ChiSquareResult;
  jensenShannon: number;
  /** Values the reference never saw (only known when the profile kept every category). */
  unseen: number;
}

/** Drift statistics of a categorical window against its profile (top-K categories plus `__other__`). */
export function categoricalDrift(
  profile: CategoricalProfile,
  window: ArrayLike<string | null | undefined>,
  epsilon = DRIFT_EPSILON,
): CategoricalDrift {
  const summary = summariseCategoricalWindow(profile, window);
  const reference = categoricalFractions(profile);
  return {
    psi: psi(reference, summary.counts, epsilon),
    chiSquare: chiSquare(reference, summary.counts, epsilon),
    jensenShannon: jensenShannon(reference, summary.counts),
    unseen: summary.unseen,
  };
}
