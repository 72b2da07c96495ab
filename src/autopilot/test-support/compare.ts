import type { CompareOptions, ComparePort, Comparison } from "../ports.js";

/**
 * A simple, honest comparison for tests only (the lead wires the real statistics in production):
 * - "dm": the paired loss differential d = |e_champion|^p − |e_challenger|^p, its mean over its standard error
 *   (lag-0 variance, no autocovariance terms), scaled by the Harvey–Leybourne–Newbold factor for horizon h;
 *   one-sided normal p-value for "the challenger's loss is smaller"; effect: the mean of d.
 * - "rank": Mann–Whitney U of |errors| with the normal approximation (no tie correction); effect: the
 *   rank-biserial correlation, positive when the challenger's errors rank lower.
 */
export const testCompare: ComparePort = (champion, challenger, options) =>
  options.test === "dm" ? dm(champion, challenger, options) : rank(champion, challenger, options);

function dm(champion: readonly number[], challenger: readonly number[], options: CompareOptions): Comparison {
  const n = Math.min(champion.length, challenger.length);
  const p = options.power ?? 2;
  const h = options.h ?? 1;
  const d = Array.from(
    { length: n },
    (_, i) => Math.abs(champion[i] as number) ** p - Math.abs(challenger[i] as number) ** p,
  );
  const mean = d.reduce((a, b) => a + b, 0) / n;
  const variance = d.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
  const hln = Math.sqrt((n + 1 - 2 * h + (h * (h - 1)) / n) / n);
  const statistic =
    variance === 0
      ? mean === 0
        ? 0
        : Math.sign(mean) * Number.POSITIVE_INFINITY
      : (mean / Math.sqrt(variance / n)) * hln;
  const pValue = 1 - normalCdf(statistic);
  return { better: pValue < options.alpha && mean > 0, statistic, pValue, effect: mean };
}

function rank(
  champion: readonly number[],
  challenger: readonly number[],
  options: CompareOptions,
): Comparison {
  const a = champion.map(Math.abs);
  const b = challenger.map(Math.abs);
  let u = 0; // pairs where the challenger's error is smaller, ties half
  for (const x of a) for (const y of b) u += y < x ? 1 : y === x ? 0.5 : 0;
  const n1 = a.length;
  const n2 = b.length;
  const mean = (n1 * n2) / 2;
  const sd = Math.sqrt((n1 * n2 * (n1 + n2 + 1)) / 12);
  const statistic = sd === 0 ? 0 : (u - mean) / sd;
  const pValue = 1 - normalCdf(statistic);
  const effect = (2 * u) / (n1 * n2) - 1;
  return {
    better: pValue < options.alpha && effect >= (options.minEffect ?? 0) && effect > 0,
    statistic,
    pValue,
    effect,
  };
}

/** Φ(x) via the Abramowitz–Stegun 7.1.26 approximation of erf (error below 1.5e-7). */
function normalCdf(x: number): number {
  if (x === Number.POSITIVE_INFINITY) return 1;
  if (x === Number.NEGATIVE_INFINITY) return 0;
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-z * z);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}
