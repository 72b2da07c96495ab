import { incompleteGammaUpper, pt } from "../../forecasting/index.js";

/** Standard normal upper tail P(Z > z) = Q(1/2, z²/2)/2, accurate far into the tail. */
export function pnormUpper(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  if (z === Number.POSITIVE_INFINITY) return 0;
  if (z === Number.NEGATIVE_INFINITY) return 1;
  const tail = 0.5 * incompleteGammaUpper(0.5, (z * z) / 2);
  return z >= 0 ? tail : 1 - tail;
}

/** Standard normal distribution function P(Z ≤ z). */
export function pnorm(z: number): number {
  return pnormUpper(-z);
}

/** Chi-square upper tail P(X > x) with df degrees of freedom. */
export function pchisqUpper(x: number, df: number): number {
  if (!(df > 0)) return Number.NaN;
  return incompleteGammaUpper(df / 2, x / 2);
}

/** Student t upper tail P(T > t), computed without cancellation for large t. */
export function ptUpper(t: number, df: number): number {
  return pt(-t, df);
}

export { pt };
