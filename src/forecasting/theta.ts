/**
 * The Theta method as forecast::thetaf implements it (Hyndman & Billah 2003: SES with drift equal to half the
 * linear-trend slope), with classical multiplicative seasonal adjustment when a 90 % test finds seasonality.
 */

import { decompose, seasonalityTest } from "./decompose.js";
import { fitEts } from "./ets.js";
import { linearFit } from "./linalg.js";
import type { MethodFit } from "./method-fit.js";
import type { FitResult } from "./types.js";

export function fitTheta(y: Float64Array, period: number): FitResult<MethodFit> {
  const n = y.length;
  const m = period;
  let seasonal = seasonalityTest(y, m);
  let x = y;
  let figure: Float64Array | undefined;
  let seasonalIndex: Float64Array | undefined;
  if (seasonal) {
    const dec = decompose(y, m, "multiplicative");
    // Indexes near zero (or undefined, from all-zero windows) cannot adjust the data: stay non-seasonal.
    if (dec.seasonal.some((s) => !(Math.abs(s) >= 1e-4))) {
      seasonal = false;
    } else {
      figure = dec.figure;
      seasonalIndex = dec.seasonal;
      x = new Float64Array(n);
      for (let t = 0; t < n; t++) x[t] = (y[t] as number) / (dec.seasonal[t] as number);
    }
  }
  const ses = fitEts(x, m, { model: "ANN", criterion: "mse" });
  if (!ses.ok) return ses;
  const fit = ses.value;
  const ts = new Float64Array(n);
  for (let t = 0; t < n; t++) ts[t] = t;
  const drift = linearFit(ts, x, n)[1] / 2;
  const alpha = Math.max(1e-10, fit.alpha);
  const level = fit.lastState[0] as number;
  let next: number[] | null = null;
  if (seasonal && figure) {
    // The seasonal indexes of the m periods after the sample.
    next = Array.from({ length: m }, (_, i) => figure[(n + i) % m] as number);
  }
  // In-sample one-step forecasts of the reseasonalised SES fit (R's thetaf reports the same).
  const fitted = new Float64Array(n);
  for (let t = 0; t < n; t++)
    fitted[t] = (fit.fitted[t] as number) * (seasonalIndex ? (seasonalIndex[t] as number) : 1);
  return {
    ok: true,
    value: {
      label: seasonal ? "Theta (seasonally adjusted)" : "Theta",
      core: { kind: "theta", level, alpha, drift, n, sigma2: fit.sigma2, seasonal: next },
      info: {
        params: { alpha, drift, level },
        sigma2: fit.sigma2,
        loglik: null,
        aic: null,
        aicc: null,
        bic: null,
      },
      fitted,
      calibrationStart: 0,
    },
  };
}

/** Theta point forecasts: SES level plus drift·(h − 1 + (1 − (1 − α)^n)/α), reseasonalised. */
export function thetaMean(
  core: { level: number; alpha: number; drift: number; n: number; seasonal: readonly number[] | null },
  h: number,
): Float64Array {
  const out = new Float64Array(h);
  const { level, alpha, drift, n, seasonal } = core;
  const shift = (1 - (1 - alpha) ** n) / alpha;
  for (let i = 0; i < h; i++) {
    const base = level + drift * (i + shift);
    out[i] = seasonal ? base * (seasonal[i % seasonal.length] as number) : base;
  }
  return out;
}
