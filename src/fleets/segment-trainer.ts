/**
 * Trains one segment (one series) of a fleet: validates every candidate, picks the winner, checks the
 * acceptance gate, refits the winner on the whole training part and, for benchmark protocols, scores it on
 * the held-out tail. Pure: no I/O, deterministic for the same input (only `fitMs` varies).
 *
 * Conventions (the fleet report and the registered metrics depend on them):
 * - The training part is the series minus `plan.holdout` trailing periods; validation never sees the holdout.
 * - Validation folds: `holdout` → one fold that fits on y[0, n − size) and scores the last `size`;
 *   `rolling` → `origins` folds whose test windows end at n, n − step, n − 2·step, … (each `size` long).
 *   Folds whose training part would be shorter than 2 are dropped; no fold left → TOO_SHORT.
 * - A candidate that fails to fit on any fold is left out of the selection (the reason is in `skipped`), so
 *   every compared candidate is scored on exactly the same folds.
 * - MASE/RMSSE scale each fold by its own training part's in-sample seasonal-naive error with lag
 *   `plan.period`, or lag 1 when that part has no more than `period` points. A zero scale (for example an
 *   all-zero training window) makes the metric NaN for that fold; folds average their finite values.
 * - WQL of one series: Σ_levels 2·Σ_h pinball / Σ_h |actual| / number of levels (fev's definition applied to
 *   one series). Rolling folds are pooled (ratio of sums across folds) because a single window of an
 *   intermittent series is often all zeros. When Σ|actual| is zero the denominator falls back to
 *   h · mean |training value| (the loss relative to the series' usual volume), and to h (plain mean
 *   pinball) when the training part is all zeros too, so the value is always finite.
 * - Selection takes the lowest `plan.selectionMetric`; ties keep the earlier candidate (list candidates from
 *   simple to complex). When no candidate has a finite value for that metric (zero scale), it falls back to
 *   the unscaled counterpart (mase → mae, rmsse → rmse), then mae, then rmse; `selectedBy` records which.
 * - Gate: the winner's and the baseline's validation scores on `plan.gate.metric` (same fallback);
 *   improvementPct = 100 · (baseline − winner) / baseline (0 when both are 0, −100 when only the baseline is
 *   0). A baseline that cannot be scored fails the gate: without a comparison nobody should be promoted
 *   automatically.
 * - Series without negative values are treated as non-negative (demand, counts): forecasts and quantiles are
 *   clamped at zero, which never worsens the pinball loss of non-negative actuals.
 */
import {
  type FittedModel,
  type FittedState,
  fitModel,
  mae,
  rmse,
  seasonalNaiveMae,
  seasonalNaiveMse,
  smape,
  WQL_LEVELS,
} from "../forecasting/index.js";
import type { CandidatePlan, SegmentPlan, SelectionMetric } from "./segment-plan.js";

export const HOLDOUT_METRICS = [
  "mase",
  "rmsse",
  "wql",
  "smape",
  "mae",
  "rmse",
  "bias",
  "coverage80",
] as const;
export type HoldoutMetric = (typeof HOLDOUT_METRICS)[number];

export type SegmentFailureReason = "TOO_SHORT" | "ALL_NA" | "NON_FINITE" | "FIT_FAILED";

export interface SegmentGateResult {
  passed: boolean;
  /** Name of the baseline candidate. */
  baseline: string;
  /** Metric actually compared (plan.gate.metric unless it was NaN for either side). */
  metric: SelectionMetric;
  score: number;
  baselineScore: number;
  improvementPct: number;
}

export interface SegmentHoldoutResult {
  metrics: Record<HoldoutMetric, number>;
  mean: number[];
  /** Quantile forecasts keyed by level as written by String(level), e.g. "0.1". */
  quantiles: Record<string, number[]>;
  actuals: number[];
}

export interface SegmentSuccess {
  ok: true;
  seriesId: string;
  /** Name of the winning candidate. */
  winner: string;
  /** Forecasting method of the winner (MethodName). */
  method: string;
  /** Human-readable fitted model, e.g. "ETS(A,N,N)". */
  label: string;
  /** Winner refitted on the whole training part (the series minus plan.holdout). */
  state: FittedState;
  /** Validation metrics of every candidate that fitted on all folds. */
  validation: Record<string, Record<SelectionMetric, number>>;
  /** Metric that decided the selection (plan.selectionMetric unless it was NaN for every candidate). */
  selectedBy: SelectionMetric;
  /** Candidates left out of the selection, with the reason. */
  skipped: Record<string, string>;
  gate: SegmentGateResult;
  holdout?: SegmentHoldoutResult;
  fitMs: number;
}

export interface SegmentFailure {
  ok: false;
  seriesId: string;
  reason: SegmentFailureReason;
  message: string;
}

export type SegmentOutcome = SegmentSuccess | SegmentFailure;

interface Fold {
  train: Float64Array;
  test: Float64Array;
}

type Scores = Record<SelectionMetric, number>;

type CandidateScore = { ok: true; scores: Scores } | { ok: false; reason: string };

/**
 * Trains one series under a segment plan. Never throws for bad data: failures come back as values with a
 * reason, so a fleet records them and carries on.
 *
 * @example
 * const out = trainSegment("21029627", Float64Array.from(values), plan);
 * if (out.ok) register(out.state, out.validation[out.winner]);
 * else recordFailure(out.reason, out.message);
 */
export function trainSegment(seriesId: string, values: Float64Array, plan: SegmentPlan): SegmentOutcome {
  const start = performance.now();
  const fail = (reason: SegmentFailureReason, message: string): SegmentFailure => ({
    ok: false,
    seriesId,
    reason,
    message,
  });

  const n = values.length;
  let finite = 0;
  let firstBad = -1;
  let negative = false;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) {
      finite++;
      if (v < 0) negative = true;
    } else if (firstBad < 0) firstBad = i;
  }
  if (n === 0) return fail("TOO_SHORT", "the series is empty");
  if (finite === 0) return fail("ALL_NA", `all ${n} values are missing`);
  if (firstBad >= 0) {
    return fail(
      "NON_FINITE",
      `value ${firstBad} is ${String(values[firstBad])}; apply the NA policy before training`,
    );
  }

  const nTrain = n - plan.holdout;
  // plan.minLength counts the whole series, holdout included (SegmentPlan); the training part needs 2 more.
  const minLength = Math.max(plan.minLength, plan.holdout + 2);
  if (n < minLength) {
    return fail(
      "TOO_SHORT",
      plan.holdout > 0
        ? `${n} values (${nTrain} for training after a holdout of ${plan.holdout}); at least ${minLength} needed`
        : `${n} values; at least ${minLength} needed`,
    );
  }
  const train = values.subarray(0, nTrain);
  const folds = makeFolds(train, plan);
  if (folds.length === 0) {
    return fail(
      "TOO_SHORT",
      `${nTrain} training values cannot hold a validation window of ${plan.validation.size}`,
    );
  }
  const fitOptions = { period: plan.period, nonNegative: !negative };
  const levels = plan.quantiles.length > 0 ? plan.quantiles : WQL_LEVELS;
  const wqlFallback = meanAbs(train);

  const validation: Record<string, Scores> = {};
  const skipped: Record<string, string> = {};
  const usable: CandidatePlan[] = [];
  for (const candidate of plan.candidates) {
    const scored = scoreCandidate(candidate, folds, plan.period, fitOptions, levels, wqlFallback);
    if (scored.ok) {
      validation[candidate.name] = scored.scores;
      usable.push(candidate);
    } else skipped[candidate.name] = scored.reason;
  }
  if (usable.length === 0) {
    const reasons = Object.entries(skipped).map(([name, why]) => `${name}: ${why}`);
    return fail("FIT_FAILED", `no candidate could be validated (${reasons.join("; ")})`);
  }

  const selectedBy =
    metricChain(plan.selectionMetric).find((m) =>
      usable.some((c) => Number.isFinite(validation[c.name]?.[m])),
    ) ?? plan.selectionMetric;
  const ranked = rank(usable, validation, selectedBy);

  // The refit sees more data than any fold, so it rarely fails; if it does, the next-ranked candidate wins.
  let model: FittedModel | undefined;
  let winner: CandidatePlan | undefined;
  const refitErrors: string[] = [];
  for (const candidate of ranked) {
    const r = fitModel(candidate.spec, train, { ...fitOptions, distribution: candidate.distribution });
    if (r.ok) {
      model = r.value;
      winner = candidate;
      break;
    }
    refitErrors.push(`${candidate.name}: ${r.error.message}`);
  }
  if (!model || !winner) {
    return fail(
      "FIT_FAILED",
      `no candidate could be refitted on the training data (${refitErrors.join("; ")})`,
    );
  }

  const gate = evaluateGate(winner, validation, plan, folds, (baseline) =>
    scoreCandidate(baseline, folds, plan.period, fitOptions, levels, wqlFallback),
  );

  const outcome: SegmentSuccess = {
    ok: true,
    seriesId,
    winner: winner.name,
    method: model.method,
    label: model.label,
    state: model.toState(),
    validation,
    selectedBy,
    skipped,
    gate,
    fitMs: 0,
  };
  if (plan.holdout > 0) {
    outcome.holdout = scoreHoldout(model, train, values.subarray(nTrain), plan, levels, wqlFallback);
  }
  outcome.fitMs = performance.now() - start;
  return outcome;
}

function makeFolds(train: Float64Array, plan: SegmentPlan): Fold[] {
  const v = plan.validation;
  const n = train.length;
  const ends: number[] = [];
  switch (v.scheme) {
    case "holdout":
      ends.push(n - v.size);
      break;
    case "rolling":
      // Oldest origin first, so that fold order (and any tie-breaking on it) is chronological.
      for (let k = v.origins - 1; k >= 0; k--) ends.push(n - v.size - k * v.step);
      break;
    default: {
      const never: never = v;
      throw new Error(`unknown validation scheme ${JSON.stringify(never)}`);
    }
  }
  const folds: Fold[] = [];
  for (const end of ends) {
    if (end < 2 || v.size < 1) continue;
    folds.push({ train: train.subarray(0, end), test: train.subarray(end, end + v.size) });
  }
  return folds;
}

function scoreCandidate(
  candidate: CandidatePlan,
  folds: readonly Fold[],
  period: number,
  fitOptions: { period: number; nonNegative: boolean },
  levels: readonly number[],
  wqlFallback: number,
): CandidateScore {
  let maseSum = 0;
  let maseN = 0;
  let rmsseSum = 0;
  let rmsseN = 0;
  let maeSum = 0;
  let rmseSum = 0;
  let smapeSum = 0;
  let pinballSum = 0;
  let absActual = 0;
  let horizon = 0;
  for (const [k, fold] of folds.entries()) {
    const r = fitModel(candidate.spec, fold.train, { ...fitOptions, distribution: candidate.distribution });
    if (!r.ok)
      return { ok: false, reason: `fold ${k + 1}/${folds.length}: ${r.error.code}: ${r.error.message}` };
    const h = fold.test.length;
    const fc = r.value.forecast(h, { quantiles: levels });
    const foldMae = mae(fold.test, fc.mean);
    const foldRmse = rmse(fold.test, fc.mean);
    const lag = fold.train.length > period ? period : 1;
    const maeScale = seasonalNaiveMae(fold.train, lag);
    const mseScale = seasonalNaiveMse(fold.train, lag);
    if (maeScale > 0) {
      maseSum += foldMae / maeScale;
      maseN++;
    }
    if (mseScale > 0) {
      rmsseSum += foldRmse / Math.sqrt(mseScale);
      rmsseN++;
    }
    maeSum += foldMae;
    rmseSum += foldRmse;
    smapeSum += smape(fold.test, fc.mean);
    pinballSum += pinballTotal(fold.test, fc.quantiles, levels);
    for (let i = 0; i < h; i++) absActual += Math.abs(fold.test[i] as number);
    horizon += h;
  }
  const f = folds.length;
  return {
    ok: true,
    scores: {
      mase: maseN > 0 ? maseSum / maseN : Number.NaN,
      rmsse: rmsseN > 0 ? rmsseSum / rmsseN : Number.NaN,
      wql: pinballSum / wqlDenominator(absActual, horizon, wqlFallback) / levels.length,
      smape: smapeSum / f,
      mae: maeSum / f,
      rmse: rmseSum / f,
    },
  };
}

/** Σ over levels and horizon of 2·pinball. */
function pinballTotal(
  actual: Float64Array,
  quantiles: ReadonlyMap<number, Float64Array>,
  levels: readonly number[],
): number {
  let s = 0;
  for (const q of levels) {
    const values = quantiles.get(q);
    if (!values) throw new Error(`forecast lacks quantile ${q}`);
    for (let i = 0; i < actual.length; i++) {
      const d = (actual[i] as number) - (values[i] as number);
      s += 2 * (d >= 0 ? q * d : (q - 1) * d);
    }
  }
  return s;
}

function wqlDenominator(absActual: number, horizon: number, fallbackLevel: number): number {
  if (absActual > 0) return absActual;
  return fallbackLevel > 0 ? horizon * fallbackLevel : horizon;
}

function meanAbs(y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += Math.abs(y[i] as number);
  return y.length > 0 ? s / y.length : 0;
}

/** The metric to use, then its fallbacks when it is NaN (see the module comment). */
function metricChain(metric: SelectionMetric): SelectionMetric[] {
  let unscaled: SelectionMetric;
  switch (metric) {
    case "mase":
    case "wql":
    case "smape":
      unscaled = "mae";
      break;
    case "rmsse":
      unscaled = "rmse";
      break;
    case "mae":
      unscaled = "rmse";
      break;
    case "rmse":
      unscaled = "mae";
      break;
    default: {
      const never: never = metric;
      throw new Error(`unknown metric ${String(never)}`);
    }
  }
  return [...new Set<SelectionMetric>([metric, unscaled, "mae", "rmse"])];
}

/** Candidates from best to worst on `metric`; NaN last; ties keep plan order (Array.sort is stable). */
function rank(
  candidates: readonly CandidatePlan[],
  validation: Record<string, Scores>,
  metric: SelectionMetric,
): CandidatePlan[] {
  const key = (c: CandidatePlan): number => {
    const v = validation[c.name]?.[metric] ?? Number.NaN;
    return Number.isFinite(v) ? v : Number.POSITIVE_INFINITY;
  };
  return [...candidates].sort((a, b) => key(a) - key(b) || 0);
}

function evaluateGate(
  winner: CandidatePlan,
  validation: Record<string, Scores>,
  plan: SegmentPlan,
  folds: readonly Fold[],
  scoreBaseline: (baseline: CandidatePlan) => CandidateScore,
): SegmentGateResult {
  const baseline = plan.gate.baseline;
  let baselineScores = validation[baseline.name];
  if (!baselineScores) {
    // The baseline is not among the candidates (or failed as one): score it on the same folds.
    const scored = folds.length > 0 ? scoreBaseline(baseline) : undefined;
    baselineScores = scored?.ok ? scored.scores : undefined;
  }
  const winnerScores = validation[winner.name];
  const chain = metricChain(plan.gate.metric);
  const metric =
    chain.find(
      (m) => Number.isFinite(winnerScores?.[m]) && Number.isFinite(baselineScores?.[m] ?? Number.NaN),
    ) ?? plan.gate.metric;
  const score = winnerScores?.[metric] ?? Number.NaN;
  const baselineScore = baselineScores?.[metric] ?? Number.NaN;
  let improvementPct: number;
  if (!Number.isFinite(score) || !Number.isFinite(baselineScore)) improvementPct = Number.NaN;
  else if (baselineScore > 0) improvementPct = (100 * (baselineScore - score)) / baselineScore;
  else improvementPct = score === baselineScore ? 0 : -100;
  return {
    passed: Number.isFinite(improvementPct) && improvementPct >= plan.gate.minImprovementPct,
    baseline: baseline.name,
    metric,
    score,
    baselineScore,
    improvementPct,
  };
}

function scoreHoldout(
  model: FittedModel,
  train: Float64Array,
  actual: Float64Array,
  plan: SegmentPlan,
  wqlLevels: readonly number[],
  wqlFallback: number,
): SegmentHoldoutResult {
  const h = actual.length;
  const levels = [...new Set([...plan.quantiles, ...wqlLevels, 0.1, 0.9])].sort((a, b) => a - b);
  const fc = model.forecast(h, { quantiles: levels });
  const lag = train.length > plan.period ? plan.period : 1;
  const maeScale = seasonalNaiveMae(train, lag);
  const mseScale = seasonalNaiveMse(train, lag);
  const e = mae(actual, fc.mean);
  const r = rmse(actual, fc.mean);
  let bias = 0;
  let absActual = 0;
  let inside = 0;
  const lo = fc.quantiles.get(0.1) as Float64Array;
  const hi = fc.quantiles.get(0.9) as Float64Array;
  for (let i = 0; i < h; i++) {
    const a = actual[i] as number;
    bias += a - (fc.mean[i] as number);
    absActual += Math.abs(a);
    if (a >= (lo[i] as number) && a <= (hi[i] as number)) inside++;
  }
  const quantiles: Record<string, number[]> = {};
  for (const [q, values] of fc.quantiles) quantiles[String(q)] = Array.from(values);
  return {
    metrics: {
      mase: maeScale > 0 ? e / maeScale : Number.NaN,
      rmsse: mseScale > 0 ? r / Math.sqrt(mseScale) : Number.NaN,
      wql:
        pinballTotal(actual, fc.quantiles, wqlLevels) /
        wqlDenominator(absActual, h, wqlFallback) /
        wqlLevels.length,
      smape: smape(actual, fc.mean),
      mae: e,
      rmse: r,
      bias: bias / h,
      coverage80: inside / h,
    },
    mean: Array.from(fc.mean),
    quantiles,
    actuals: Array.from(actual),
  };
}
