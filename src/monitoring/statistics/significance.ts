/**
 * Significance tests for champion/challenger comparisons: Diebold–Mariano on forecast errors (as R's
 * forecast::dm.test computes it) and Mann–Whitney on latency or error distributions (as R's wilcox.test),
 * the latter with an effect size so that a significant but negligible difference is not called better.
 */
import { invalid, midranks, requireFinite, requirePositiveInteger, requireProbability } from "./checks.js";
import { pnorm, pnormUpper, pt, ptUpper } from "./distributions.js";

export type Alternative = "two.sided" | "less" | "greater";

export interface DieboldMarianoOptions {
  /** Forecast horizon h of the errors; default 1. */
  h?: number;
  /** Loss |e|^power; default 2. */
  power?: number;
  alternative?: Alternative;
  /** Long-run variance: "acf" (rectangular, R's default) or "bartlett" weights. */
  varianceEstimator?: "acf" | "bartlett";
}

export interface DieboldMarianoResult {
  /** The HLN-corrected DM statistic. */
  statistic: number;
  pValue: number;
  /** Degrees of freedom of the t reference distribution, n − 1. */
  df: number;
  /** Mean loss difference, mean(|e1|^p − |e2|^p): positive when the second forecast is more accurate. */
  meanDifference: number;
  /** The horizon used; 1 when the h-step variance was not positive (R warns and falls back alike). */
  horizon: number;
  alternative: Alternative;
}

/**
 * Diebold–Mariano test (1995) with the Harvey, Leybourne & Newbold (1997) small-sample correction, exactly as
 * forecast::dm.test (8.20) computes it: d = |e1|^p − |e2|^p, variance (γ₀ + 2Σ_{k<h} w_k γ_k)/n from the
 * autocovariances (divisor n), statistic mean(d)/√var · √((n + 1 − 2h + h(h − 1)/n)/n), p-value from t(n − 1).
 * "less": the second method is less accurate than the first; "greater": the second is more accurate.
 */
export function dieboldMariano(
  e1: ArrayLike<number>,
  e2: ArrayLike<number>,
  options: DieboldMarianoOptions = {},
): DieboldMarianoResult {
  const h = options.h ?? 1;
  const power = options.power ?? 2;
  const alternative = options.alternative ?? "two.sided";
  requirePositiveInteger("h", h);
  if (!(power > 0) || !Number.isFinite(power)) throw invalid("power", `must be > 0, got ${power}`);
  if (e1.length !== e2.length) throw invalid("e2", `lengths differ (${e1.length} and ${e2.length})`);
  requireFinite("e1", e1);
  requireFinite("e2", e2);
  const n = e1.length;
  if (n < 2 || n <= h) throw invalid("e1", `needs more than max(1, h) = ${Math.max(1, h)} errors, got ${n}`);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = Math.abs(e1[i] as number) ** power - Math.abs(e2[i] as number) ** power;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += d[i] as number;
  mean /= n;
  const gamma = (lag: number): number => {
    let s = 0;
    for (let t = 0; t + lag < n; t++) s += ((d[t] as number) - mean) * ((d[t + lag] as number) - mean);
    return s / n;
  };
  const run = (horizon: number): DieboldMarianoResult => {
    let v = gamma(0);
    for (let lag = 1; lag < horizon; lag++) {
      const w = options.varianceEstimator === "bartlett" ? 1 - lag / horizon : 1;
      v += 2 * w * gamma(lag);
    }
    v /= n;
    if (!(v > 0)) {
      if (horizon === 1) throw invalid("e1", "the loss differences have zero variance");
      return run(1);
    }
    const k = Math.sqrt((n + 1 - 2 * horizon + (horizon / n) * (horizon - 1)) / n);
    const statistic = (mean / Math.sqrt(v)) * k;
    const df = n - 1;
    const pValue =
      alternative === "two.sided"
        ? 2 * pt(-Math.abs(statistic), df)
        : alternative === "less"
          ? pt(statistic, df)
          : ptUpper(statistic, df);
    return { statistic, pValue, df, meanDifference: mean, horizon, alternative };
  };
  return run(h);
}

export interface MannWhitneyOptions {
  alternative?: Alternative;
  /** Continuity correction of the normal approximation; default true (R's default). */
  correct?: boolean;
  /**
   * Exact p-value from the distribution of W. Default: exact when both samples are under 50 and there are no
   * ties (R's rule); with ties the normal approximation is always used.
   */
  exact?: boolean;
  /** Significance level of `conclusion`; default 0.05. */
  alpha?: number;
  /**
   * Smallest |Cliff's delta| that counts as a difference; default 0.147, the bound of a "negligible" effect in
   * Romano et al. (2006). A significant difference below it concludes "negligible".
   */
  minEffect?: number;
}

export interface MannWhitneyResult {
  /** R's W: the rank sum of x minus n₁(n₁ + 1)/2 (= #(x > y) + ½·#ties). */
  statistic: number;
  /** The normal score (with correction); NaN when the p-value is exact or every value is tied (p = 1). */
  z: number;
  pValue: number;
  exact: boolean;
  /** Cliff's delta = rank-biserial correlation = 2W/(n₁n₂) − 1 ∈ [−1, 1]; positive when x tends to be larger. */
  effect: number;
  /**
   * "x_larger"/"x_smaller": significant at alpha and |effect| ≥ minEffect; "negligible": significant but
   * smaller; "no_difference": not significant.
   */
  conclusion: "x_larger" | "x_smaller" | "negligible" | "no_difference";
}

/** Counts of W = 0..mn for sample sizes m and n without ties, as a Float64Array (the pwilcox distribution). */
function wilcoxonCounts(m: number, n: number): Float64Array {
  // Subsets of size j of ranks 1..N with rank sum s, as counts over W = s − j(j + 1)/2.
  const max = m * n;
  let dp: Float64Array[] = Array.from({ length: m + 1 }, () => new Float64Array(max + 1));
  (dp[0] as Float64Array)[0] = 1;
  for (let item = 1; item <= m + n; item++) {
    const next = dp.map((row) => Float64Array.from(row));
    // Adding rank `item` as the j-th chosen element shifts W by item − j.
    for (let j = 1; j <= Math.min(m, item); j++) {
      const shift = item - j;
      if (shift > n) continue;
      const from = dp[j - 1] as Float64Array;
      const to = next[j] as Float64Array;
      for (let w = 0; w + shift <= max; w++) to[w + shift] = (to[w + shift] as number) + (from[w] as number);
    }
    dp = next;
  }
  return dp[m] as Float64Array;
}

/**
 * Mann–Whitney U (Wilcoxon rank-sum) test of x against y, as R's wilcox.test(x, y): midranks for ties, the
 * normal approximation with tie-corrected variance and optional continuity correction, or the exact
 * distribution for small samples without ties; plus Cliff's delta and a conclusion that honours `minEffect`.
 */
export function mannWhitney(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  options: MannWhitneyOptions = {},
): MannWhitneyResult {
  const alternative = options.alternative ?? "two.sided";
  const alpha = options.alpha ?? 0.05;
  const minEffect = options.minEffect ?? 0.147;
  requireProbability("alpha", alpha);
  if (!(minEffect >= 0 && minEffect <= 1)) throw invalid("minEffect", `must lie in [0, 1], got ${minEffect}`);
  requireFinite("x", x);
  requireFinite("y", y);
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw invalid(n1 === 0 ? "x" : "y", "is empty");
  const all = new Float64Array(n1 + n2);
  for (let i = 0; i < n1; i++) all[i] = x[i] as number;
  for (let i = 0; i < n2; i++) all[n1 + i] = y[i] as number;
  const { ranks, ties } = midranks(all);
  let rankSum = 0;
  for (let i = 0; i < n1; i++) rankSum += ranks[i] as number;
  const w = rankSum - (n1 * (n1 + 1)) / 2;
  const exact = options.exact ?? (n1 < 50 && n2 < 50 && ties.length === 0);
  let z = Number.NaN;
  let pValue: number;
  if (exact && ties.length === 0) {
    const counts = wilcoxonCounts(n1, n2);
    let total = 0;
    for (const c of counts) total += c;
    const cdf = (q: number): number => {
      let s = 0;
      for (let u = 0; u <= Math.floor(q) && u < counts.length; u++) s += counts[u] as number;
      return s / total;
    };
    const upperFrom = (q: number): number => 1 - cdf(q - 1); // P(W ≥ q)
    if (alternative === "two.sided") {
      const p = w > (n1 * n2) / 2 ? upperFrom(w) : cdf(w);
      pValue = Math.min(2 * p, 1);
    } else pValue = alternative === "greater" ? upperFrom(w) : cdf(w);
  } else {
    const nn = n1 + n2;
    let tieSum = 0;
    for (const t of ties) tieSum += t * t * t - t;
    const sigma = Math.sqrt(((n1 * n2) / 12) * (nn + 1 - tieSum / (nn * (nn - 1))));
    const centred = w - (n1 * n2) / 2;
    const correction =
      options.correct === false
        ? 0
        : alternative === "two.sided"
          ? Math.sign(centred) * 0.5
          : alternative === "greater"
            ? 0.5
            : -0.5;
    if (!(sigma > 0)) {
      z = Number.NaN;
      pValue = 1;
    } else {
      z = (centred - correction) / sigma;
      pValue =
        alternative === "two.sided"
          ? 2 * Math.min(pnorm(z), pnormUpper(z))
          : alternative === "greater"
            ? pnormUpper(z)
            : pnorm(z);
    }
  }
  const effect = (2 * w) / (n1 * n2) - 1;
  const significant = pValue < alpha;
  const conclusion = !significant
    ? "no_difference"
    : Math.abs(effect) < minEffect
      ? "negligible"
      : effect > 0
        ? "x_larger"
        : "x_smaller";
  return { statistic: w, z, pValue, exact: exact && ties.length === 0, effect, conclusion };
}
