/**
 * Windowed performance metrics, computed on the pairs of a window whose actual has arrived (pairs with a
 * missing actual or prediction are skipped and counted). Forecast metrics reuse src/forecasting's
 * definitions: errors are actual − forecast, bias is their mean, MASE divides by the in-sample seasonal-naive MAE.
 */
import { bias, coverage, mae, rmse, seasonalNaiveMae } from "../../forecasting/index.js";
import { invalid, midranks, requirePositiveInteger, requireSameLength } from "./checks.js";

export interface ForecastWindowInput {
  actual: ArrayLike<number>;
  forecast: ArrayLike<number>;
  /** The series the model was fitted on (the MASE scale). */
  insample?: ArrayLike<number>;
  /** Seasonal period of the MASE scale; default 1. */
  period?: number;
  /** Interval bounds for coverage (both or neither). */
  lower?: ArrayLike<number>;
  upper?: ArrayLike<number>;
}

export interface ForecastWindowMetrics {
  /** Pairs used. */
  n: number;
  /** Pairs skipped because a value was missing. */
  skipped: number;
  mae: number;
  rmse: number;
  bias: number;
  /** NaN without `insample`, or when its seasonal-naive MAE is zero. */
  mase: number;
  /** Share of actuals inside [lower, upper]; NaN without bounds. */
  coverage: number;
}

/** MAE, RMSE, bias, MASE and interval coverage over a window of forecasts; NaN metrics when no pair is complete. */
export function forecastWindowMetrics(input: ForecastWindowInput): ForecastWindowMetrics {
  const { actual, forecast, lower, upper } = input;
  requireSameLength("forecast", actual, forecast);
  if ((lower === undefined) !== (upper === undefined)) throw invalid("lower", "give both lower and upper");
  if (lower) requireSameLength("lower", actual, lower);
  if (upper) requireSameLength("upper", actual, upper);
  const keep: number[] = [];
  for (let i = 0; i < actual.length; i++) {
    const ok =
      Number.isFinite(actual[i]) &&
      Number.isFinite(forecast[i]) &&
      (!lower || (Number.isFinite(lower[i]) && Number.isFinite(upper?.[i])));
    if (ok) keep.push(i);
  }
  const pick = (v: ArrayLike<number>): Float64Array => Float64Array.from(keep, (i) => v[i] as number);
  const n = keep.length;
  const a = pick(actual);
  const f = pick(forecast);
  const scale = input.insample ? seasonalNaiveMae(input.insample, input.period ?? 1) : Number.NaN;
  const m = n > 0 ? mae(a, f) : Number.NaN;
  return {
    n,
    skipped: actual.length - n,
    mae: m,
    rmse: n > 0 ? rmse(a, f) : Number.NaN,
    bias: n > 0 ? bias(a, f) : Number.NaN,
    mase: scale > 0 ? m / scale : Number.NaN,
    coverage: n > 0 && lower && upper ? coverage(a, pick(lower), pick(upper)) : Number.NaN,
  };
}

function checkLabels(labels: ArrayLike<number>): void {
  for (let i = 0; i < labels.length; i++)
    if (labels[i] !== 0 && labels[i] !== 1) throw invalid(`labels/${i}`, `must be 0 or 1, got ${labels[i]}`);
}

function checkProbabilities(p: ArrayLike<number>): void {
  for (let i = 0; i < p.length; i++) {
    const v = p[i] as number;
    if (!(v >= 0 && v <= 1)) throw invalid(`probabilities/${i}`, `must lie in [0, 1], got ${v}`);
  }
}

/** Share of predictions equal to the actual label. */
export function accuracy<T>(actual: ArrayLike<T>, predicted: ArrayLike<T>): number {
  requireSameLength("predicted", actual, predicted);
  if (actual.length === 0) return Number.NaN;
  let hits = 0;
  for (let i = 0; i < actual.length; i++) if (actual[i] === predicted[i]) hits++;
  return hits / actual.length;
}

/**
 * Area under the ROC curve by ranks (the Mann–Whitney statistic over n₁·n₀): a tie between a positive and a
 * negative score counts one half. NaN when the window holds only one class.
 */
export function auc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  requireSameLength("scores", labels, scores);
  checkLabels(labels);
  const { ranks } = midranks(scores);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < labels.length; i++)
    if (labels[i] === 1) {
      positives++;
      rankSum += ranks[i] as number;
    }
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean negative log-likelihood of binary labels, probabilities clipped to [ε, 1 − ε] (ε = 1e-15 by default). */
export function logLoss(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  epsilon = 1e-15,
): number {
  requireSameLength("probabilities", labels, probabilities);
  checkLabels(labels);
  checkProbabilities(probabilities);
  if (labels.length === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(1 - epsilon, Math.max(epsilon, probabilities[i] as number));
    s -= labels[i] === 1 ? Math.log(p) : Math.log1p(-p);
  }
  return s / labels.length;
}

/** Mean squared difference between probability and label. */
export function brierScore(labels: ArrayLike<number>, probabilities: ArrayLike<number>): number {
  requireSameLength("probabilities", labels, probabilities);
  checkLabels(labels);
  checkProbabilities(probabilities);
  if (labels.length === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < labels.length; i++) s += ((probabilities[i] as number) - (labels[i] as number)) ** 2;
  return s / labels.length;
}

export interface CalibrationErrorOptions {
  /** Number of bins; default 10. */
  bins?: number;
  /**
   * "uniform": bins of equal width on [0, 1], [0, 1/B), …, [(B−1)/B, 1]; "quantile": B groups of (nearly)
   * equal count after sorting by probability (ties keep their input order). Default "uniform".
   */
  strategy?: "uniform" | "quantile";
}

/**
 * Expected calibration error Σ_b (n_b/N)·|mean label_b − mean probability_b| over non-empty bins (Naeini et
 * al. 2015; Guo et al. 2017). 0 is perfect calibration.
 */
export function expectedCalibrationError(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  options: CalibrationErrorOptions = {},
): number {
  const bins = options.bins ?? 10;
  requirePositiveInteger("bins", bins);
  requireSameLength("probabilities", labels, probabilities);
  checkLabels(labels);
  checkProbabilities(probabilities);
  const n = labels.length;
  if (n === 0) return Number.NaN;
  const bin = new Int32Array(n);
  if ((options.strategy ?? "uniform") === "uniform") {
    for (let i = 0; i < n; i++) bin[i] = Math.min(bins - 1, Math.floor((probabilities[i] as number) * bins));
  } else {
    const order = Array.from({ length: n }, (_, i) => i).sort(
      (a, b) => (probabilities[a] as number) - (probabilities[b] as number) || a - b,
    );
    order.forEach((i, rank) => {
      bin[i] = Math.floor((rank * bins) / n);
    });
  }
  const count = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const b = bin[i] as number;
    count[b] = (count[b] as number) + 1;
    sumY[b] = (sumY[b] as number) + (labels[i] as number);
    sumP[b] = (sumP[b] as number) + (probabilities[i] as number);
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    const c = count[b] as number;
    if (c > 0) ece += (c / n) * Math.abs(((sumY[b] as number) - (sumP[b] as number)) / c);
  }
  return ece;
}

export interface ClassifierWindowMetrics {
  n: number;
  accuracy: number;
  auc: number;
  logLoss: number;
  brier: number;
  calibrationError: number;
}

/** Accuracy (at `threshold`, default 0.5), AUC, log-loss, Brier score and ECE of a window of binary predictions. */
export function classifierWindowMetrics(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  options: CalibrationErrorOptions & { threshold?: number } = {},
): ClassifierWindowMetrics {
  const threshold = options.threshold ?? 0.5;
  requireSameLength("probabilities", labels, probabilities);
  const predicted = Array.from(probabilities as ArrayLike<number>, (p) => (p >= threshold ? 1 : 0));
  return {
    n: labels.length,
    accuracy: accuracy(labels, predicted),
    auc: auc(labels, probabilities),
    logLoss: logLoss(labels, probabilities),
    brier: brierScore(labels, probabilities),
    calibrationError: expectedCalibrationError(labels, probabilities, options),
  };
}

export interface RegressionWindowMetrics {
  n: number;
  rmse: number;
  mae: number;
  bias: number;
}

/** RMSE, MAE and bias (actual − predicted) of a window of regression predictions. */
export function regressionWindowMetrics(
  actual: ArrayLike<number>,
  predicted: ArrayLike<number>,
): RegressionWindowMetrics {
  requireSameLength("predicted", actual, predicted);
  const n = actual.length;
  if (n === 0) return { n, rmse: Number.NaN, mae: Number.NaN, bias: Number.NaN };
  return { n, rmse: rmse(actual, predicted), mae: mae(actual, predicted), bias: bias(actual, predicted) };
}
