/**
 * Point and probabilistic accuracy metrics. Conventions (see README.md):
 * - errors are actual − forecast; `bias` is their mean (forecast::accuracy's ME), so positive = under-forecast;
 * - scaled metrics divide by the in-sample seasonal-naive error with lag m (MASE: mean |y_t − y_{t−m}|,
 *   RMSSE: mean (y_t − y_{t−m})²); when that scale is zero or undefined they return NaN and callers skip the
 *   series, as the published carparts/fev protocol does;
 * - sMAPE is in percent (0–200), terms with |a| + |f| = 0 count as 0;
 * - the pinball loss of level q is max(q·(a − f), (q − 1)·(a − f)).
 */

function checkLengths(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  if (a.length !== b.length)
    throw new RangeError(`${what}: actual has ${a.length} values, forecast ${b.length}`);
  if (a.length === 0) throw new RangeError(`${what}: no values`);
}

/** Mean absolute error. */
export function mae(actual: ArrayLike<number>, forecast: ArrayLike<number>): number {
  checkLengths(actual, forecast, "mae");
  let s = 0;
  for (let i = 0; i < actual.length; i++) s += Math.abs((actual[i] as number) - (forecast[i] as number));
  return s / actual.length;
}

/** Root mean squared error. */
export function rmse(actual: ArrayLike<number>, forecast: ArrayLike<number>): number {
  checkLengths(actual, forecast, "rmse");
  let s = 0;
  for (let i = 0; i < actual.length; i++) s += ((actual[i] as number) - (forecast[i] as number)) ** 2;
  return Math.sqrt(s / actual.length);
}

/** Mean error, actual − forecast (positive: the forecast is too low). */
export function bias(actual: ArrayLike<number>, forecast: ArrayLike<number>): number {
  checkLengths(actual, forecast, "bias");
  let s = 0;
  for (let i = 0; i < actual.length; i++) s += (actual[i] as number) - (forecast[i] as number);
  return s / actual.length;
}

/** Symmetric MAPE in percent: 200/h · Σ |a − f| / (|a| + |f|), with 0/0 terms counted as 0. */
export function smape(actual: ArrayLike<number>, forecast: ArrayLike<number>): number {
  checkLengths(actual, forecast, "smape");
  let s = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const f = forecast[i] as number;
    const d = Math.abs(a) + Math.abs(f);
    if (d > 0) s += Math.abs(a - f) / d;
  }
  return (200 * s) / actual.length;
}

/** In-sample mean absolute seasonal difference with lag m (the MASE scale); NaN when the series is too short. */
export function seasonalNaiveMae(insample: ArrayLike<number>, m: number): number {
  const n = insample.length;
  if (n <= m) return Number.NaN;
  let s = 0;
  for (let t = m; t < n; t++) s += Math.abs((insample[t] as number) - (insample[t - m] as number));
  return s / (n - m);
}

/** In-sample mean squared seasonal difference with lag m (the RMSSE scale). */
export function seasonalNaiveMse(insample: ArrayLike<number>, m: number): number {
  const n = insample.length;
  if (n <= m) return Number.NaN;
  let s = 0;
  for (let t = m; t < n; t++) s += ((insample[t] as number) - (insample[t - m] as number)) ** 2;
  return s / (n - m);
}

/** Mean absolute scaled error with seasonal period m; NaN when the in-sample scale is zero. */
export function mase(
  actual: ArrayLike<number>,
  forecast: ArrayLike<number>,
  insample: ArrayLike<number>,
  m: number,
): number {
  const scale = seasonalNaiveMae(insample, m);
  return scale > 0 ? mae(actual, forecast) / scale : Number.NaN;
}

/** Root mean squared scaled error with seasonal period m (m = 1 is the M5 convention); NaN for zero scale. */
export function rmsse(
  actual: ArrayLike<number>,
  forecast: ArrayLike<number>,
  insample: ArrayLike<number>,
  m: number,
): number {
  const scale = seasonalNaiveMse(insample, m);
  if (!(scale > 0)) return Number.NaN;
  const e = rmse(actual, forecast);
  return Math.sqrt((e * e) / scale);
}

/** Share of actuals inside [lower, upper] (bounds included). */
export function coverage(
  actual: ArrayLike<number>,
  lower: ArrayLike<number>,
  upper: ArrayLike<number>,
): number {
  checkLengths(actual, lower, "coverage");
  checkLengths(actual, upper, "coverage");
  let inside = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    if (a >= (lower[i] as number) && a <= (upper[i] as number)) inside++;
  }
  return inside / actual.length;
}

/** Pinball (quantile) loss of one forecast at level q. */
export function pinball(actual: number, quantile: number, q: number): number {
  const d = actual - quantile;
  return d >= 0 ? q * d : (q - 1) * d;
}

/** Mean pinball loss over the horizon at level q. */
export function meanPinball(actual: ArrayLike<number>, quantile: ArrayLike<number>, q: number): number {
  checkLengths(actual, quantile, "meanPinball");
  let s = 0;
  for (let i = 0; i < actual.length; i++) s += pinball(actual[i] as number, quantile[i] as number, q);
  return s / actual.length;
}

/**
 * Scaled pinball loss (as the M5 uncertainty track): mean pinball loss over the horizon and the given
 * levels, divided by the in-sample seasonal-naive MAE with lag m. NaN for zero scale.
 */
export function scaledPinball(
  actual: ArrayLike<number>,
  quantiles: ReadonlyMap<number, ArrayLike<number>>,
  insample: ArrayLike<number>,
  m: number,
): number {
  const scale = seasonalNaiveMae(insample, m);
  if (!(scale > 0) || quantiles.size === 0) return Number.NaN;
  let s = 0;
  for (const [q, values] of quantiles) s += meanPinball(actual, values, q);
  return s / quantiles.size / scale;
}

/** The quantile levels the fev benchmark and GluonTS use for WQL. */
export const WQL_LEVELS: readonly number[] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/**
 * Weighted quantile loss over many series, as fev/GluonTS compute it: for each level q,
 * 2·Σ pinball / Σ |actual| summed over every series and horizon, then averaged over the levels.
 * Add each series' holdout and quantile forecasts, then read `value()`.
 *
 * @example
 * const wql = new WqlAccumulator();
 * wql.add(actual, forecast.quantiles);
 * wql.value();
 */
export class WqlAccumulator {
  readonly levels: readonly number[];
  readonly #loss: Float64Array;
  #absActual = 0;
  #series = 0;

  constructor(levels: readonly number[] = WQL_LEVELS) {
    this.levels = levels;
    this.#loss = new Float64Array(levels.length);
  }

  /** Adds one series; `quantiles` must hold every level of the accumulator. */
  add(actual: ArrayLike<number>, quantiles: ReadonlyMap<number, ArrayLike<number>>): void {
    for (let k = 0; k < this.levels.length; k++) {
      const q = this.levels[k] as number;
      const values = quantiles.get(q);
      if (!values) throw new RangeError(`missing quantile ${q}`);
      checkLengths(actual, values, "wql");
      let s = 0;
      for (let i = 0; i < actual.length; i++) s += pinball(actual[i] as number, values[i] as number, q);
      this.#loss[k] = (this.#loss[k] as number) + 2 * s;
    }
    for (let i = 0; i < actual.length; i++) this.#absActual += Math.abs(actual[i] as number);
    this.#series++;
  }

  get series(): number {
    return this.#series;
  }

  /** The WQL; NaN when no series were added or all actuals are zero. */
  value(): number {
    if (!(this.#absActual > 0)) return Number.NaN;
    let s = 0;
    for (let k = 0; k < this.levels.length; k++) s += (this.#loss[k] as number) / this.#absActual;
    return s / this.levels.length;
  }
}

/** WQL of a set of series in one call (see WqlAccumulator). */
export function weightedQuantileLoss(
  series: Iterable<{
    readonly actual: ArrayLike<number>;
    readonly quantiles: ReadonlyMap<number, ArrayLike<number>>;
  }>,
  levels: readonly number[] = WQL_LEVELS,
): number {
  const acc = new WqlAccumulator(levels);
  for (const s of series) acc.add(s.actual, s.quantiles);
  return acc.value();
}

/** Mean of the finite values (how fleet reports average MASE/RMSSE after dropping zero-scale series). */
export function meanFinite(values: Iterable<number>): number {
  let s = 0;
  let n = 0;
  for (const v of values) {
    if (Number.isFinite(v)) {
      s += v;
      n++;
    }
  }
  return n > 0 ? s / n : Number.NaN;
}
