/** Count distributions and empirical quantiles for predictive distributions. */

import { minimizeScalar } from "./optim.js";
import { incompleteBeta, incompleteGammaUpper, lgamma } from "./special.js";

/** Distributions whose mass lies below this walk the probability mass function from zero; others bisect the CDF. */
const WALK_LIMIT = 1000;
/** R's qnbinom/qpois accept a cumulative probability this close to the target (rounding fuzz). */
const FUZZ = 1 - 64 * 2.220446049250313e-16;

/** Negative binomial (size = Infinity: Poisson) CDF at integer x ≥ 0. */
export function countCdf(x: number, mean: number, size: number): number {
  if (x < 0) return 0;
  if (mean <= 0) return 1;
  if (!Number.isFinite(size)) return incompleteGammaUpper(x + 1, mean);
  return incompleteBeta(size / (size + mean), size, x + 1);
}

/**
 * Quantile at level p of a negative binomial with the given mean and size (dispersion; variance
 * mean + mean²/size), or of a Poisson when size is Infinity: the smallest integer x with CDF(x) ≥ p.
 */
export function countQuantile(p: number, mean: number, size: number): number {
  if (!(mean > 0)) return 0;
  const poisson = !Number.isFinite(size);
  const target = p * FUZZ;
  const sd = Math.sqrt(poisson ? mean : mean + (mean * mean) / size);
  if (mean + 10 * sd < WALK_LIMIT) {
    const logP0 = poisson ? -mean : -size * Math.log1p(mean / size);
    let pmf = Math.exp(logP0);
    if (pmf > 0) {
      let cdf = pmf;
      let x = 0;
      const ratio = poisson ? 0 : mean / (mean + size);
      while (cdf < target && x < 10_000_000) {
        pmf *= poisson ? mean / (x + 1) : ((x + size) / (x + 1)) * ratio;
        x++;
        cdf += pmf;
        if (pmf === 0 && cdf < target) break;
      }
      if (cdf >= target) return x;
    }
  }
  // Bisection on the CDF: exact for any mean, used where walking from zero would be slow or underflow.
  let lo = -1;
  let hi = Math.ceil(mean + 10 * sd + 10);
  while (countCdf(hi, mean, size) < target) hi *= 2;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (countCdf(mid, mean, size) >= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Negative binomial log likelihood of y given means mu (without the constant log Γ(y + 1) terms). */
function negBinLogLik(y: Float64Array, mu: Float64Array, size: number): number {
  let ll = 0;
  const lgk = lgamma(size);
  for (let i = 0; i < y.length; i++) {
    const yi = y[i] as number;
    const mi = mu[i] as number;
    ll +=
      lgamma(yi + size) -
      lgk +
      size * Math.log(size / (size + mi)) +
      (yi > 0 ? yi * Math.log(mi / (size + mi)) : 0);
  }
  return ll;
}

export const MIN_NEGBIN_SIZE = 0.01;
export const MAX_NEGBIN_SIZE = 1e4;
/** Floor on fitted means when calibrating, so a demand after a zero forecast is unlikely, not impossible. */
const MIN_MEAN = 1e-3;

/**
 * Maximum-likelihood size of a negative binomial whose means are the one-step-ahead forecasts `fitted`,
 * over the observations from `from` on with a finite forecast. Returns Infinity (Poisson) when the data are
 * not overdispersed relative to the forecasts or the estimate reaches the upper bound.
 */
export function fitNegBinSize(y: Float64Array, fitted: Float64Array, from = 0): number {
  let count = 0;
  for (let i = from; i < y.length; i++) if (Number.isFinite(fitted[i] as number)) count++;
  if (count === 0) return Number.POSITIVE_INFINITY;
  const ys = new Float64Array(count);
  const mus = new Float64Array(count);
  let k = 0;
  let excess = 0;
  for (let i = from; i < y.length; i++) {
    const f = fitted[i] as number;
    if (!Number.isFinite(f)) continue;
    const yi = y[i] as number;
    const mi = Math.max(f, MIN_MEAN);
    ys[k] = yi;
    mus[k] = mi;
    excess += (yi - mi) ** 2 - yi;
    k++;
  }
  if (excess <= 0) return Number.POSITIVE_INFINITY;
  const best = minimizeScalar(
    (logSize) => -negBinLogLik(ys, mus, Math.exp(logSize)),
    Math.log(MIN_NEGBIN_SIZE),
    Math.log(MAX_NEGBIN_SIZE),
    1e-6,
  );
  const size = Math.exp(best.x);
  return size >= 0.99 * MAX_NEGBIN_SIZE ? Number.POSITIVE_INFINITY : size;
}

/** Quantile of sorted values by linear interpolation (R's type 7). */
export function sortedQuantile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  if (n === 1) return sorted[0] as number;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  const a = sorted[lo] as number;
  return a + (h - lo) * ((sorted[hi] as number) - a);
}
