/**
 * Reference profiles: what a model's inputs and outputs looked like when it was registered, kept in a compact,
 * JSON-serialisable form whose size does not grow with the reference sample.
 *
 * - A numeric profile holds `quantiles`: the sample's quantiles (R's type 7, linear interpolation) at
 *   `quantilePoints` equally spaced probabilities 0, 1/(Q−1), …, 1 (so `quantiles[0]` is the minimum and the
 *   last is the maximum), the count, missing fraction, mean and sd, and histogram `binEdges` at the sample's
 *   deciles (type 1: the data values that invert the empirical CDF; duplicates removed, so discrete data get fewer bins) with the exact reference fraction per bin.
 *   Bins are right-closed: (−∞, e₀], (e₀, e₁], …, (e_last, +∞). Right-closed bins keep a point mass at the lowest
 *   value (the zeros of intermittent demand) in the first bin.
 * - A categorical profile holds the top-K categories by frequency (ties by value) and the rest as `__other__`.
 */
import { invalid, requirePositiveInteger, sortedFinite } from "./checks.js";

export const OTHER_CATEGORY = "__other__";

export interface NumericProfile {
  kind: "numeric";
  /** Values in the reference sample, missing included. */
  count: number;
  missingFraction: number;
  mean: number;
  sd: number;
  min: number;
  max: number;
  /** Quantiles at probabilities i/(quantiles.length − 1). */
  quantiles: number[];
  /** Interior bin edges (ascending, distinct); there are binEdges.length + 1 bins. */
  binEdges: number[];
  /** Reference fraction of the non-missing values in each bin. */
  binFractions: number[];
}

export interface CategoricalProfile {
  kind: "categorical";
  count: number;
  missingFraction: number;
  /** The top-K categories, most frequent first, with their fraction of the non-missing values. */
  categories: { value: string; fraction: number }[];
  /** Fraction of the non-missing values in the other categories. */
  otherFraction: number;
  /** How many distinct categories the reference held. */
  distinct: number;
}

export interface NumericProfileOptions {
  /** Quantile points kept (at least 2); default 101 (every percentile). */
  quantilePoints?: number;
  /** Histogram bins before duplicate edges are merged; default 10 (deciles). */
  bins?: number;
}

/** Type 7 quantile of sorted values at probability p. */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  const a = sorted[lo] as number;
  return a + (h - lo) * ((sorted[hi] as number) - a);
}

/** Index of the right-closed bin (−∞, e₀], (e₀, e₁], … holding x: the number of edges strictly below x. */
export function binIndex(edges: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((edges[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Profile a numeric reference sample (NaN, null and undefined count as missing).
 *
 * @example
 * const profile = buildNumericProfile(Float64Array.from(reference));
 * JSON.stringify(profile); // ~2 KB whatever the sample size
 */
export function buildNumericProfile(
  sample: ArrayLike<number | null | undefined>,
  options: NumericProfileOptions = {},
): NumericProfile {
  const points = options.quantilePoints ?? 101;
  const bins = options.bins ?? 10;
  requirePositiveInteger("quantilePoints", points);
  requirePositiveInteger("bins", bins);
  if (points < 2) throw invalid("quantilePoints", "must be at least 2");
  const sorted = sortedFinite(sample);
  const n = sorted.length;
  if (n === 0) throw invalid("sample", "holds no finite value");
  let mean = 0;
  for (let i = 0; i < n; i++) mean += ((sorted[i] as number) - mean) / (i + 1);
  let ss = 0;
  for (let i = 0; i < n; i++) ss += ((sorted[i] as number) - mean) ** 2;
  const quantiles = Array.from({ length: points }, (_, i) => quantileSorted(sorted, i / (points - 1)));
  const binEdges: number[] = [];
  for (let j = 1; j < bins; j++) {
    // Edges are data values (R's type 1, the inverse of the empirical CDF), so discrete data keep their atoms.
    const e = sorted[Math.max(0, Math.ceil((j / bins) * n) - 1)] as number;
    if (binEdges.length === 0 || e > (binEdges[binEdges.length - 1] as number)) binEdges.push(e);
  }
  const counts = binCounts(binEdges, sorted);
  return {
    kind: "numeric",
    count: sample.length,
    missingFraction: (sample.length - n) / sample.length,
    mean,
    sd: n > 1 ? Math.sqrt(ss / (n - 1)) : 0,
    min: sorted[0] as number,
    max: sorted[n - 1] as number,
    quantiles,
    binEdges,
    binFractions: Array.from(counts, (c) => c / n),
  };
}

function binCounts(edges: ArrayLike<number>, finite: ArrayLike<number>): Float64Array {
  const counts = new Float64Array(edges.length + 1);
  for (let i = 0; i < finite.length; i++) {
    const b = binIndex(edges, finite[i] as number);
    counts[b] = (counts[b] as number) + 1;
  }
  return counts;
}

/**
 * The profile's distribution function at x: the inverse of the piecewise-linear quantile function, right-
 * continuous (a run of equal quantiles is a point mass). `left` gives the limit from below, F(x−).
 */
export function profileCdf(profile: NumericProfile, x: number, left = false): number {
  const q = profile.quantiles;
  const last = q.length - 1;
  const step = 1 / last;
  if (left ? x <= (q[0] as number) : x < (q[0] as number)) return 0;
  if (left ? x > (q[last] as number) : x >= (q[last] as number)) return 1;
  // j: the last index with q[j] ≤ x (or q[j] < x from the left).
  let lo = 0;
  let hi = last;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (left ? (q[mid] as number) < x : (q[mid] as number) <= x) lo = mid;
    else hi = mid - 1;
  }
  const a = q[lo] as number;
  const b = q[lo + 1] as number;
  return (lo + (b > a ? (x - a) / (b - a) : 0)) * step;
}

/** The profile's quantile function (linear between the stored points). */
export function profileQuantile(profile: NumericProfile, p: number): number {
  const q = profile.quantiles;
  const h = p * (q.length - 1);
  const lo = Math.min(Math.floor(h), q.length - 2);
  const a = q[lo] as number;
  return a + (h - lo) * ((q[lo + 1] as number) - a);
}

export interface NumericWindowSummary {
  count: number;
  missingFraction: number;
  /** Non-missing values per profile bin. */
  binCounts: number[];
  mean: number;
  min: number;
  max: number;
  /** Fractions of the non-missing values below the reference minimum and above its maximum. */
  belowReference: number;
  aboveReference: number;
}

/** Summarise a window of values against a numeric profile (bin counts, missing and out-of-range shares). */
export function summariseNumericWindow(
  profile: NumericProfile,
  window: ArrayLike<number | null | undefined>,
): NumericWindowSummary {
  return summariseSorted(profile, sortedFinite(window), window.length);
}

/** The summary from the window's finite values sorted ascending, and its length with missing values. */
export function summariseSorted(
  profile: NumericProfile,
  sorted: Float64Array,
  count: number,
): NumericWindowSummary {
  const n = sorted.length;
  let sum = 0;
  let below = 0;
  let above = 0;
  const edges = profile.binEdges;
  const counts = new Array<number>(edges.length + 1).fill(0);
  let bin = 0;
  for (let i = 0; i < n; i++) {
    const v = sorted[i] as number;
    sum += v;
    if (v < profile.min) below++;
    if (v > profile.max) above++;
    // Right-closed bins: advance past every edge strictly below v.
    while (bin < edges.length && (edges[bin] as number) < v) bin++;
    counts[bin] = (counts[bin] as number) + 1;
  }
  return {
    count,
    missingFraction: count === 0 ? 0 : (count - n) / count,
    binCounts: counts,
    mean: n === 0 ? Number.NaN : sum / n,
    min: n === 0 ? Number.NaN : (sorted[0] as number),
    max: n === 0 ? Number.NaN : (sorted[n - 1] as number),
    belowReference: n === 0 ? 0 : below / n,
    aboveReference: n === 0 ? 0 : above / n,
  };
}

export interface CategoricalProfileOptions {
  /** Categories kept by name; the rest are pooled as `__other__`. Default 20. */
  topK?: number;
}

/** Profile a categorical reference sample (null and undefined count as missing). */
export function buildCategoricalProfile(
  sample: ArrayLike<string | null | undefined>,
  options: CategoricalProfileOptions = {},
): CategoricalProfile {
  const topK = options.topK ?? 20;
  requirePositiveInteger("topK", topK);
  const counts = new Map<string, number>();
  let n = 0;
  for (let i = 0; i < sample.length; i++) {
    const v = sample[i];
    if (v === null || v === undefined) continue;
    if (v === OTHER_CATEGORY) throw invalid(`sample/${i}`, `"${OTHER_CATEGORY}" is reserved`);
    counts.set(v, (counts.get(v) ?? 0) + 1);
    n++;
  }
  if (n === 0) throw invalid("sample", "holds no value");
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const kept = ranked.slice(0, topK);
  let keptCount = 0;
  for (const [, c] of kept) keptCount += c;
  return {
    kind: "categorical",
    count: sample.length,
    missingFraction: (sample.length - n) / sample.length,
    categories: kept.map(([value, c]) => ({ value, fraction: c / n })),
    otherFraction: (n - keptCount) / n,
    distinct: counts.size,
  };
}

export interface CategoricalWindowSummary {
  count: number;
  missingFraction: number;
  /** Counts per profile category, in the profile's order, then the `__other__` count. */
  counts: number[];
  /** Values in the window that the reference never saw (they are counted in `__other__`). */
  unseen: number;
}

/** Summarise a window of categories against a categorical profile. */
export function summariseCategoricalWindow(
  profile: CategoricalProfile,
  window: ArrayLike<string | null | undefined>,
): CategoricalWindowSummary {
  const index = new Map(profile.categories.map((c, i) => [c.value, i]));
  const counts = new Array<number>(profile.categories.length + 1).fill(0);
  let missing = 0;
  let unseen = 0;
  for (let i = 0; i < window.length; i++) {
    const v = window[i];
    if (v === null || v === undefined) {
      missing++;
      continue;
    }
    const j = index.get(v);
    if (j !== undefined) counts[j] = (counts[j] as number) + 1;
    else {
      const o = profile.categories.length;
      counts[o] = (counts[o] as number) + 1;
      // Only a profile that kept every category knows that a value outside it is new.
      if (profile.otherFraction === 0) unseen++;
    }
  }
  return {
    count: window.length,
    missingFraction: window.length === 0 ? 0 : missing / window.length,
    counts,
    unseen,
  };
}

/** The reference probabilities of a categorical profile in the order of `summariseCategoricalWindow` counts. */
export function categoricalFractions(profile: CategoricalProfile): number[] {
  return [...profile.categories.map((c) => c.fraction), profile.otherFraction];
}
