/**
 * Intermittent-demand methods. All forecast a flat demand rate per period:
 * - Croston (1972) exactly as forecast::croston: SES (fixed alpha, first value as initial level) on the
 *   non-zero demand sizes and on the intervals between them; forecast = size / interval.
 * - SBA (Syntetos & Boylan 2005): Croston times (1 − alpha/2), removing Croston's bias.
 * - TSB (Teunter, Syntetos & Babai 2011): smooths the probability of a demand every period and the size
 *   only when demand occurs, so the forecast decays during long runs of zeros (obsolescence).
 * - ADIDA (Nikolopoulos et al. 2011): sums non-overlapping buckets of k periods (k = mean inter-demand
 *   interval by default), forecasts the bucket totals with SES, and spreads the forecast evenly.
 */

import type { MethodFit } from "./method-fit.js";
import { minimizeScalar } from "./optim.js";
import type { FitResult } from "./types.js";

export type IntermittentVariant = "croston" | "sba" | "tsb" | "adida";

export interface IntermittentOptions {
  /** Smoothing for demand sizes (and intervals for Croston/SBA). Default 0.1. */
  readonly alpha?: number | undefined;
  /** TSB: smoothing for the demand probability. Default 0.1. */
  readonly beta?: number | undefined;
  /** ADIDA: bucket length; default the rounded mean inter-demand interval. */
  readonly aggregation?: number | undefined;
}

export function fitIntermittent(
  y: Float64Array,
  variant: IntermittentVariant,
  options: IntermittentOptions = {},
): FitResult<MethodFit> {
  const n = y.length;
  if (n < 2) {
    return {
      ok: false,
      error: {
        code: "TOO_SHORT",
        message: `${variant} needs at least 2 observations, got ${n}`,
        details: { minLength: 2, length: n },
      },
    };
  }
  for (let t = 0; t < n; t++) {
    if ((y[t] as number) < 0) {
      return {
        ok: false,
        error: {
          code: "NOT_APPLICABLE",
          message: `${variant} needs non-negative demand; y[${t}] is ${y[t]}`,
          details: { index: t },
        },
      };
    }
  }
  switch (variant) {
    case "croston":
    case "sba":
      return { ok: true, value: croston(y, options.alpha ?? 0.1, variant === "sba") };
    case "tsb":
      return { ok: true, value: tsb(y, options.alpha ?? 0.1, options.beta ?? 0.1) };
    case "adida":
      return { ok: true, value: adida(y, options.aggregation) };
    default: {
      const never: never = variant;
      throw new Error(`unknown variant ${String(never)}`);
    }
  }
}

/** Index of the first positive value, or -1. */
function firstDemand(y: Float64Array): number {
  for (let t = 0; t < y.length; t++) if ((y[t] as number) > 0) return t;
  return -1;
}

function flatFit(
  label: string,
  value: number,
  alpha: number,
  y: Float64Array,
  fitted: Float64Array,
  calibrationStart: number,
  params: Record<string, number>,
): MethodFit {
  let ss = 0;
  let count = 0;
  for (let t = calibrationStart; t < y.length; t++) {
    const f = fitted[t] as number;
    if (Number.isFinite(f)) {
      ss += ((y[t] as number) - f) ** 2;
      count++;
    }
  }
  const sigma2 = count > 0 ? ss / count : 0;
  return {
    label,
    core: { kind: "flat", value, sigma2, alpha },
    info: { params, sigma2, loglik: null, aic: null, aicc: null, bic: null },
    fitted,
    calibrationStart,
    intermittent: true,
  };
}

function croston(y: Float64Array, alpha: number, sba: boolean): MethodFit {
  const n = y.length;
  const factor = sba ? 1 - alpha / 2 : 1;
  const fitted = new Float64Array(n).fill(Number.NaN);
  let count = 0;
  let size = 0;
  let interval = 0;
  let firstSize = 0;
  let firstInterval = 0;
  let last = -1;
  let current = 0;
  for (let t = 0; t < n; t++) {
    if (t > 0) fitted[t] = current * factor;
    const v = y[t] as number;
    if (v > 0) {
      const gap = t - last;
      last = t;
      count++;
      if (count === 1) {
        firstSize = v;
        firstInterval = gap;
      } else {
        if (count === 2) {
          // R's SES starts from the first value and also updates on it (HoltWinters with l.start = x[1]).
          size = alpha * firstSize + (1 - alpha) * firstSize;
          interval = alpha * firstInterval + (1 - alpha) * firstInterval;
        }
        size = alpha * v + (1 - alpha) * size;
        interval = alpha * gap + (1 - alpha) * interval;
      }
      current = count === 1 ? firstSize / firstInterval : size / interval;
    }
  }
  const start = firstDemand(y) + 1;
  const name = sba ? "SBA" : "Croston";
  return flatFit(`${name}(alpha=${alpha})`, current * factor, alpha, y, fitted, Math.max(start, 1), {
    alpha,
    demand: count === 1 ? firstSize : size,
    interval: count === 1 ? firstInterval : interval,
  });
}

function tsb(y: Float64Array, alpha: number, beta: number): MethodFit {
  const n = y.length;
  let demands = 0;
  let total = 0;
  for (let t = 0; t < n; t++) {
    const v = y[t] as number;
    if (v > 0) {
      demands++;
      total += v;
    }
  }
  const fitted = new Float64Array(n);
  // Initial probability and size from the whole sample: the usual choice, and the only one that does not
  // depend on where in the sample the first demand falls.
  let p = demands / n;
  let z = demands > 0 ? total / demands : 0;
  for (let t = 0; t < n; t++) {
    fitted[t] = p * z;
    const v = y[t] as number;
    if (v > 0) {
      z += alpha * (v - z);
      p += beta * (1 - p);
    } else {
      p -= beta * p;
    }
  }
  return flatFit(`TSB(alpha=${alpha},beta=${beta})`, p * z, alpha, y, fitted, 0, {
    alpha,
    beta,
    probability: p,
    demand: z,
  });
}

function adida(y: Float64Array, aggregation: number | undefined): MethodFit {
  const n = y.length;
  const fitted = new Float64Array(n).fill(Number.NaN);
  let demands = 0;
  for (let t = 0; t < n; t++) if ((y[t] as number) > 0) demands++;
  if (demands === 0) {
    fitted.fill(0);
    return flatFit("ADIDA(k=1)", 0, 0.1, y, fitted, 0, { aggregation: 1, alpha: 0.1 });
  }
  // Mean inter-demand interval, counting the first interval from the start as Croston does.
  const meanInterval = (lastDemand(y) + 1) / demands;
  let k = aggregation ?? Math.max(1, Math.round(meanInterval));
  k = Math.max(1, Math.min(k, Math.floor(n / 2)));
  const buckets = Math.floor(n / k);
  const offset = n - buckets * k;
  const agg = new Float64Array(buckets);
  for (let j = 0; j < buckets; j++) {
    let s = 0;
    for (let t = offset + j * k; t < offset + (j + 1) * k; t++) s += y[t] as number;
    agg[j] = s;
  }
  const sse = (alpha: number): number => {
    let level = agg[0] as number;
    let s = 0;
    for (let j = 1; j < buckets; j++) {
      const e = (agg[j] as number) - level;
      s += e * e;
      level += alpha * e;
    }
    return s;
  };
  // Bounds as statsforecast's optimised SES for intermittent series: smooth, never chasing single spikes.
  const alpha = buckets > 2 ? minimizeScalar(sse, 0.1, 0.3, 1e-6).x : 0.1;
  let level = agg[0] as number;
  for (let j = 1; j < buckets; j++) {
    for (let t = offset + j * k; t < offset + (j + 1) * k; t++) fitted[t] = level / k;
    level += alpha * ((agg[j] as number) - level);
  }
  return flatFit(`ADIDA(k=${k})`, level / k, alpha, y, fitted, offset + k, { aggregation: k, alpha, level });
}

/** Index of the last positive value (the mean interval spans the start to the last demand). */
function lastDemand(y: Float64Array): number {
  for (let t = y.length - 1; t >= 0; t--) if ((y[t] as number) > 0) return t;
  return -1;
}
