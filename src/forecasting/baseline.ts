/** Benchmark methods: naive, seasonal naive and mean, with R's interval conventions (forecast::lagwalk, meanf). */

import type { MethodFit } from "./method-fit.js";
import type { FitResult } from "./types.js";

export function fitNaive(y: Float64Array): FitResult<MethodFit> {
  const n = y.length;
  if (n < 2) return tooShort("naive", 2, n);
  const fitted = new Float64Array(n).fill(Number.NaN);
  let ss = 0;
  for (let t = 1; t < n; t++) {
    fitted[t] = y[t - 1] as number;
    ss += ((y[t] as number) - (y[t - 1] as number)) ** 2;
  }
  const sigma2 = ss / (n - 1);
  return {
    ok: true,
    value: {
      label: "Naive",
      core: { kind: "naive", last: y[n - 1] as number, sigma2 },
      info: { params: {}, sigma2, loglik: null, aic: null, aicc: null, bic: null },
      fitted,
      calibrationStart: 1,
    },
  };
}

export function fitSeasonalNaive(y: Float64Array, period: number): FitResult<MethodFit> {
  const n = y.length;
  const m = period;
  if (n <= m) return tooShort("snaive", m + 1, n);
  const fitted = new Float64Array(n).fill(Number.NaN);
  let ss = 0;
  for (let t = m; t < n; t++) {
    fitted[t] = y[t - m] as number;
    ss += ((y[t] as number) - (y[t - m] as number)) ** 2;
  }
  const sigma2 = ss / (n - m);
  return {
    ok: true,
    value: {
      label: `Seasonal naive(m=${m})`,
      core: { kind: "snaive", lastCycle: Array.from(y.subarray(n - m)), sigma2 },
      info: { params: {}, sigma2, loglik: null, aic: null, aicc: null, bic: null },
      fitted,
      calibrationStart: m,
    },
  };
}

export function fitMean(y: Float64Array): FitResult<MethodFit> {
  const n = y.length;
  if (n < 2) return tooShort("mean", 2, n);
  let mean = 0;
  for (let t = 0; t < n; t++) mean += y[t] as number;
  mean /= n;
  let ss = 0;
  for (let t = 0; t < n; t++) ss += ((y[t] as number) - mean) ** 2;
  const sd = Math.sqrt(ss / (n - 1));
  return {
    ok: true,
    value: {
      label: "Mean",
      core: { kind: "mean", mean, sd, n },
      info: { params: { mean, sd }, sigma2: sd * sd, loglik: null, aic: null, aicc: null, bic: null },
      // As R: the fitted value of the mean method is the full-sample mean.
      fitted: new Float64Array(n).fill(mean),
      calibrationStart: 0,
    },
  };
}

function tooShort(method: string, minLength: number, length: number): FitResult<never> {
  return {
    ok: false,
    error: {
      code: "TOO_SHORT",
      message: `${method} needs at least ${minLength} observations, got ${length}`,
      details: { minLength, length },
    },
  };
}
