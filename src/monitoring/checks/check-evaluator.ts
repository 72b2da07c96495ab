/**
 * Evaluation of a model's checks over its monitoring data: each check gives satisfied, violated or
 * inconclusive (not enough data, no reference to compare with) with its evidence.
 */
import {
  evaluateRule,
  InMemoryRuleData,
  parseRule,
  type RuleData,
  type RuleObservation,
  type WindowEvidence,
} from "../rules/index.js";
import {
  accuracy,
  auc,
  expectedCalibrationError,
  forecastWindowMetrics,
  logLoss,
  regressionWindowMetrics,
  scaleErrors,
  summariseCategoricalWindow,
  summariseNumericWindow,
} from "../statistics/index.js";
import type { ModelCalibration } from "./check-calibration.js";
import { calibrationFor, driftStatistic, runDetector, targetReference } from "./check-calibration.js";
import {
  type CheckKind,
  type PerformanceMetric,
  type ResolvedChangeCheck,
  type ResolvedCheck,
  type ResolvedDriftCheck,
  type ResolvedPerformanceCheck,
  type ResolvedQualityCheck,
  type ResolvedRuleCheck,
  toRuleWindow,
} from "./check-config.js";
import type { ModelMonitoringData, MonitoringObservations } from "./monitoring-data.js";

export type CheckOutcome = "satisfied" | "violated" | "inconclusive";

/** How a threshold was obtained, for the record. */
export interface CalibrationEvidence {
  readonly source: "calibrated" | "explicit" | "reference";
  /** Read from the stored ModelCalibration (false: computed during this evaluation). */
  readonly cached?: boolean;
  readonly alpha?: number;
  readonly resamples?: number;
  readonly seed?: number;
  readonly windowSize?: number;
  readonly nullQuantiles?: {
    readonly p50: number;
    readonly p90: number;
    readonly p95: number;
    readonly p99: number;
  };
  readonly pseudoSample?: boolean;
  /** Reference value the threshold derives from (performance: the validation metric). */
  readonly reference?: number;
  readonly tolerance?: number;
  /** Error scale of a change check. */
  readonly scale?: { readonly center: number; readonly spread: number; readonly method: string };
}

export interface CheckEvidence {
  /** The value computed on the window (null when it could not be). */
  readonly statistic: number | null;
  readonly threshold: number | null;
  /** The check fires when the statistic is above (or below) the threshold. */
  readonly direction: "above" | "below";
  /** Observations asked for and used. */
  readonly windowSize: number;
  readonly observations: number;
  readonly calibration?: CalibrationEvidence;
  /** Kind-specific detail: the change detector's alarm, the quality findings per feature, the rule's windows. */
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface CheckResult {
  readonly check: string;
  readonly kind: CheckKind;
  readonly severity: "warning" | "critical";
  readonly outcome: CheckOutcome;
  /** Why: what fired, or what was missing. */
  readonly reasons: readonly string[];
  readonly evidence: CheckEvidence;
  /** How far past its threshold the statistic lies, relative to the threshold (0 unless violated). */
  readonly exceedance: number;
  /** The newest period (or prediction time, or row) the result rests on; null when no data. */
  readonly latest: number | null;
}

export interface EvaluateOptions {
  /** Per-model calibration from `calibrate`; checks it lacks (or with other settings) are calibrated now. */
  readonly calibration?: ModelCalibration;
}

const LOWER_IS_BETTER: Record<PerformanceMetric, boolean> = {
  mae: true,
  mase: true,
  rmse: true,
  bias: true,
  logloss: true,
  ece: true,
  coverage: false,
  accuracy: false,
  auc: false,
};

function rowCount(o: MonitoringObservations): number {
  return o.prediction.length;
}

function latestOf(o: MonitoringObservations, rows: readonly number[]): number | null {
  const last = rows[rows.length - 1];
  if (last === undefined) return null;
  return (o.periods?.[last] as number | undefined) ?? (o.at?.[last] as number | undefined) ?? last;
}

/** Indices of the newest `size` rows that have both an actual and a prediction. */
function newestWithActuals(o: MonitoringObservations, size: number): number[] {
  const out: number[] = [];
  for (let i = rowCount(o) - 1; i >= 0 && out.length < size; i--)
    if (Number.isFinite(o.actual[i]) && Number.isFinite(o.prediction[i])) out.push(i);
  return out.reverse();
}

function relativeExceedance(statistic: number, threshold: number, direction: "above" | "below"): number {
  const d = direction === "above" ? statistic - threshold : threshold - statistic;
  return Math.max(0, d) / Math.max(Math.abs(threshold), 1e-12);
}

function result(
  check: ResolvedCheck,
  outcome: CheckOutcome,
  reasons: string[],
  evidence: CheckEvidence,
  latest: number | null,
): CheckResult {
  const { statistic, threshold, direction } = evidence;
  const exceedance =
    outcome === "violated" && statistic !== null && threshold !== null
      ? relativeExceedance(statistic, threshold, direction)
      : 0;
  return {
    check: check.id,
    kind: check.kind,
    severity: check.severity,
    outcome,
    reasons,
    evidence,
    exceedance: outcome === "violated" && !(exceedance > 0) ? Number.MIN_VALUE : exceedance,
    latest,
  };
}

function pick(values: ArrayLike<number>, rows: readonly number[]): Float64Array {
  return Float64Array.from(rows, (i) => values[i] as number);
}

function performanceValue(
  check: ResolvedPerformanceCheck,
  data: ModelMonitoringData,
  rows: readonly number[],
): number | string {
  const o = data.observations;
  const actual = pick(o.actual, rows);
  const prediction = pick(o.prediction, rows);
  switch (check.metric) {
    case "mae":
    case "rmse":
    case "bias":
      return regressionWindowMetrics(actual, prediction)[check.metric];
    case "mase": {
      const scale = data.reference.maseScale;
      if (!(scale !== undefined && scale > 0)) return "the reference has no MASE scale";
      return regressionWindowMetrics(actual, prediction).mae / scale;
    }
    case "coverage": {
      const level = check.level ?? 80;
      const lower = o.lower?.[level];
      const upper = o.upper?.[level];
      if (lower === undefined || upper === undefined) return `no ${level} % interval bounds in the data`;
      return forecastWindowMetrics({
        actual,
        forecast: prediction,
        lower: pick(lower, rows),
        upper: pick(upper, rows),
      }).coverage;
    }
    case "accuracy":
      return accuracy(actual, prediction);
    case "auc":
    case "logloss":
    case "ece": {
      if (o.probability === undefined) return `${check.metric} needs the predicted probabilities`;
      const p = pick(o.probability, rows);
      if (check.metric === "auc") return auc(actual, p);
      if (check.metric === "logloss") return logLoss(actual, p);
      return expectedCalibrationError(actual, p);
    }
  }
}

function referenceMetric(check: ResolvedPerformanceCheck, data: ModelMonitoringData): number | undefined {
  const metrics = data.reference.metrics ?? {};
  const own = (name: string) => (Object.hasOwn(metrics, name) ? metrics[name] : undefined);
  if (check.metric === "coverage") return own(`coverage_${check.level ?? 80}`) ?? (check.level ?? 80) / 100;
  if (check.metric === "bias") return own("mae");
  return own(check.metric);
}

function evaluatePerformance(check: ResolvedPerformanceCheck, data: ModelMonitoringData): CheckResult {
  const rows = newestWithActuals(data.observations, check.window);
  const latest = latestOf(data.observations, rows);
  const lowerBetter = LOWER_IS_BETTER[check.metric];
  const direction = lowerBetter ? "above" : "below";
  const reference = referenceMetric(check, data);
  const base = { windowSize: check.window, observations: rows.length, direction } as const;
  if (reference === undefined || !Number.isFinite(reference))
    return result(
      check,
      "inconclusive",
      [`the reference has no ${check.metric === "bias" ? "mae (the bias tolerance's unit)" : check.metric}`],
      { ...base, statistic: null, threshold: null },
      latest,
    );
  const threshold =
    check.metric === "bias"
      ? check.tolerance * reference
      : lowerBetter
        ? reference * (1 + check.tolerance)
        : reference * (1 - check.tolerance);
  const calibration: CalibrationEvidence = { source: "reference", reference, tolerance: check.tolerance };
  if (rows.length < check.minSample)
    return result(
      check,
      "inconclusive",
      [`${rows.length} of the ${check.minSample} observations with actuals needed`],
      { ...base, statistic: null, threshold, calibration },
      latest,
    );
  const value = performanceValue(check, data, rows);
  if (typeof value === "string" || !Number.isFinite(value))
    return result(
      check,
      "inconclusive",
      [typeof value === "string" ? value : `${check.metric} is not a finite number on this window`],
      { ...base, statistic: null, threshold, calibration },
      latest,
    );
  const statistic = check.metric === "bias" ? Math.abs(value) : value;
  const violated = lowerBetter ? statistic > threshold : statistic < threshold;
  const what = check.metric === "bias" ? "|bias|" : check.metric;
  return result(
    check,
    violated ? "violated" : "satisfied",
    violated
      ? [
          `${what} ${fmt(statistic)} over the last ${rows.length} is ${lowerBetter ? "above" : "below"} ${fmt(threshold)} (reference ${fmt(reference)}, tolerance ${check.tolerance})`,
        ]
      : [],
    {
      ...base,
      statistic,
      threshold,
      calibration,
      detail: check.metric === "bias" ? { bias: value } : undefined,
    },
    latest,
  );
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(4);
}

function targetValues(
  data: ModelMonitoringData,
  target: string,
): ArrayLike<number | string | null> | undefined {
  if (target === "prediction") return data.observations.prediction;
  const inputs = data.observations.inputs;
  const name = target.slice("inputs.".length);
  return inputs !== undefined && Object.hasOwn(inputs, name) ? inputs[name] : undefined;
}

function isMissing(v: unknown): boolean {
  return v === null || v === undefined || (typeof v === "number" && Number.isNaN(v));
}

function evaluateDrift(
  check: ResolvedDriftCheck,
  data: ModelMonitoringData,
  cached: ModelCalibration | undefined,
): CheckResult {
  const values = targetValues(data, check.target);
  const n = rowCount(data.observations);
  const start = Math.max(0, n - check.windowSize);
  const rows = Array.from({ length: n - start }, (_, i) => start + i);
  const latest = latestOf(data.observations, rows);
  const base = { windowSize: check.windowSize, direction: "above" } as const;
  if (values === undefined)
    return result(
      check,
      "inconclusive",
      [`the data has no ${check.target}`],
      { ...base, observations: 0, statistic: null, threshold: null },
      latest,
    );
  const window = rows.map((i) => values[i] ?? null);
  const observed = window.filter((v) => !isMissing(v)).length;
  const found = calibrationFor(check, data.reference, cached);
  if ("problem" in found)
    return result(
      check,
      "inconclusive",
      [found.problem],
      { ...base, observations: observed, statistic: null, threshold: null },
      latest,
    );
  const cal = found.calibration;
  if (cal.kind !== "drift") throw new Error("unreachable: a drift check got a change calibration");
  const calibration: CalibrationEvidence = {
    source: cal.source,
    cached: found.cached,
    windowSize: check.windowSize,
    pseudoSample: cal.pseudoSample,
    ...(cal.calibration === null
      ? {}
      : {
          alpha: cal.calibration.alpha,
          resamples: cal.calibration.resamples,
          seed: cal.calibration.seed,
          nullQuantiles: cal.calibration.nullQuantiles,
        }),
  };
  if (observed < check.minSample)
    return result(
      check,
      "inconclusive",
      [`${observed} of the ${check.minSample} values of ${check.target} needed`],
      { ...base, observations: observed, statistic: null, threshold: cal.threshold, calibration },
      latest,
    );
  const feature = targetReference(data.reference, check.target);
  const profile = feature?.profile;
  const numeric = profile?.kind === "numeric";
  const typed = window.filter((v) => !isMissing(v) && typeof v === (numeric ? "number" : "string"));
  const statistic = profile === undefined ? undefined : driftStatistic(profile, check.statistic, typed);
  if (statistic === undefined || !Number.isFinite(statistic))
    return result(
      check,
      "inconclusive",
      [`${check.statistic} could not be computed on ${check.target}`],
      { ...base, observations: observed, statistic: null, threshold: cal.threshold, calibration },
      latest,
    );
  const violated = statistic > cal.threshold;
  return result(
    check,
    violated ? "violated" : "satisfied",
    violated
      ? [
          `${check.statistic} of ${check.target} ${fmt(statistic)} over ${observed} values exceeds its ${cal.source} threshold ${fmt(cal.threshold)}`,
        ]
      : [],
    { ...base, observations: observed, statistic, threshold: cal.threshold, calibration },
    latest,
  );
}

function evaluateChange(
  check: ResolvedChangeCheck,
  data: ModelMonitoringData,
  cached: ModelCalibration | undefined,
): CheckResult {
  const o = data.observations;
  const n = rowCount(o);
  const errors = Float64Array.from(
    { length: n },
    (_, i) => (o.actual[i] as number) - (o.prediction[i] as number),
  );
  let observed = 0;
  let lastObserved = -1;
  for (let i = 0; i < n; i++)
    if (Number.isFinite(errors[i])) {
      observed++;
      lastObserved = i;
    } else errors[i] = Number.NaN;
  const latest = lastObserved < 0 ? null : latestOf(o, [lastObserved]);
  const base = { windowSize: n, observations: observed, direction: "above" } as const;
  const found = calibrationFor(check, data.reference, cached);
  if ("problem" in found)
    return result(
      check,
      "inconclusive",
      [found.problem],
      { ...base, statistic: null, threshold: null },
      latest,
    );
  const cal = found.calibration;
  if (cal.kind !== "change") throw new Error("unreachable: a change check got a drift calibration");
  const calibration: CalibrationEvidence = {
    source: cal.source,
    cached: found.cached,
    scale: cal.scale,
    ...(cal.calibration === null
      ? {}
      : {
          alpha: cal.calibration.alpha,
          resamples: cal.calibration.resamples,
          seed: cal.calibration.seed,
          windowSize: cal.calibration.windowSize,
          nullQuantiles: cal.calibration.nullQuantiles,
        }),
  };
  if (observed < check.minSample)
    return result(
      check,
      "inconclusive",
      [`${observed} of the ${check.minSample} errors needed`],
      { ...base, statistic: null, threshold: cal.h, calibration },
      latest,
    );
  const run = runDetector(check, scaleErrors(errors, cal.scale), cal.h);
  // Observed rows among the newest `lookback` ones.
  let from = n;
  for (let seen = 0; from > 0 && seen < check.lookback; ) {
    from--;
    if (Number.isFinite(errors[from])) seen++;
  }
  const alarm = [...run.alarms].reverse().find((a) => a.index >= from);
  const at = alarm?.index ?? lastObserved;
  const statistic = Math.max(run.upper[at] as number, run.lower[at] as number);
  const alarmAt = alarm === undefined ? null : latestOf(o, [alarm.index]);
  return result(
    check,
    alarm ? "violated" : "satisfied",
    alarm
      ? [
          `${check.detector} alarm (${alarm.direction === "up" ? "errors rose: actuals above the predictions" : "errors fell: actuals below the predictions"}) at ${alarmAt}: ${fmt(statistic)} > h ${fmt(cal.h)} spreads`,
        ]
      : [],
    {
      ...base,
      statistic,
      threshold: cal.h,
      calibration,
      detail: {
        alarms: run.alarms.map((a) => ({ at: latestOf(o, [a.index]), direction: a.direction })),
        k: check.k,
      },
    },
    latest,
  );
}

interface QualityFinding {
  readonly feature: string;
  readonly problem: "missing" | "out-of-range" | "schema";
  readonly value: number;
  readonly limit: number;
  readonly message: string;
}

function evaluateQuality(check: ResolvedQualityCheck, data: ModelMonitoringData): CheckResult {
  const o = data.observations;
  const n = rowCount(o);
  const start = Math.max(0, n - check.window);
  const rows = Array.from({ length: n - start }, (_, i) => start + i);
  const latest = latestOf(o, rows);
  const features = check.features ?? Object.keys(data.reference.features ?? {});
  const base = { windowSize: check.window, observations: rows.length, direction: "above" } as const;
  if (rows.length < check.minSample)
    return result(
      check,
      "inconclusive",
      [`${rows.length} of the ${check.minSample} rows needed`],
      { ...base, statistic: null, threshold: null },
      latest,
    );
  const findings: QualityFinding[] = [];
  const unknown: string[] = [];
  for (const feature of features) {
    const ref = data.reference.features?.[feature];
    if (ref === undefined || !Object.hasOwn(data.reference.features ?? {}, feature)) {
      unknown.push(feature);
      continue;
    }
    const column = o.inputs !== undefined && Object.hasOwn(o.inputs, feature) ? o.inputs[feature] : undefined;
    if (column === undefined) {
      if (check.schema)
        findings.push({ feature, problem: "schema", value: 1, limit: 0, message: `${feature} is absent` });
      continue;
    }
    const window = rows.map((i) => column[i] ?? null);
    const numeric = ref.profile.kind === "numeric";
    const wrong = window.filter((v) => !isMissing(v) && typeof v !== (numeric ? "number" : "string")).length;
    if (check.schema && wrong > 0)
      findings.push({
        feature,
        problem: "schema",
        value: wrong / window.length,
        limit: 0,
        message: `${wrong} of ${window.length} values of ${feature} are not ${numeric ? "numbers" : "strings"}`,
      });
    const missing = window.filter(isMissing).length / window.length;
    const missingLimit = Math.min(1, ref.profile.missingFraction + check.maxMissingIncrease);
    if (missing > missingLimit)
      findings.push({
        feature,
        problem: "missing",
        value: missing,
        limit: missingLimit,
        message: `${feature} is missing in ${fmt(missing)} of the window (reference ${fmt(ref.profile.missingFraction)})`,
      });
    const outside =
      ref.profile.kind === "numeric"
        ? (() => {
            const s = summariseNumericWindow(
              ref.profile,
              window.filter((v): v is number => typeof v === "number"),
            );
            return s.belowReference + s.aboveReference;
          })()
        : (() => {
            const values = window.filter((v): v is string => typeof v === "string");
            const s = summariseCategoricalWindow(ref.profile, values);
            return values.length === 0 ? 0 : s.unseen / values.length;
          })();
    if (outside > check.maxOutOfRange)
      findings.push({
        feature,
        problem: "out-of-range",
        value: outside,
        limit: check.maxOutOfRange,
        message: `${fmt(outside)} of ${feature} lies outside the reference's ${numeric ? "range" : "categories"}`,
      });
  }
  if (features.length === 0 || unknown.length === features.length)
    return result(
      check,
      "inconclusive",
      [features.length === 0 ? "the reference has no features" : `the reference lacks ${unknown.join(", ")}`],
      { ...base, statistic: null, threshold: null },
      latest,
    );
  // The worst finding, by how far past its limit (in units of the limit, at least 1 % absolute).
  const ranked = findings
    .map((f) => ({ f, excess: (f.value - f.limit) / Math.max(f.limit, 0.01) }))
    .sort((a, b) => b.excess - a.excess);
  const worst = ranked[0]?.f;
  return result(
    check,
    worst ? "violated" : "satisfied",
    ranked.map((r) => r.f.message),
    {
      ...base,
      statistic: worst?.value ?? 0,
      threshold: worst?.limit ?? check.maxOutOfRange,
      detail: { findings, ...(unknown.length > 0 ? { notInReference: unknown } : {}) },
    },
    latest,
  );
}

/** An in-memory rule view of the observations: outputs `forecast` (or `prediction`), `lower_L`, `upper_L`. */
export function observationsAsRuleData(data: ModelMonitoringData): RuleData {
  const o = data.observations;
  const n = rowCount(o);
  const observations: RuleObservation[] = [];
  for (let i = 0; i < n; i++) {
    const outputs: Record<string, number> = {};
    const prediction = o.prediction[i] as number;
    if (Number.isFinite(prediction))
      outputs[data.kind === "forecast" ? "forecast" : "prediction_value"] = prediction;
    for (const [level, values] of Object.entries(o.lower ?? {}))
      outputs[`lower_${level}`] = values[i] as number;
    for (const [level, values] of Object.entries(o.upper ?? {}))
      outputs[`upper_${level}`] = values[i] as number;
    if (o.probability) outputs.probability = o.probability[i] as number;
    const inputs: Record<string, number> = {};
    for (const [name, values] of Object.entries(o.inputs ?? {})) {
      const v = values[i];
      if (typeof v === "number") inputs[name] = v;
    }
    const actual = o.actual[i] as number;
    const period = o.periods?.[i];
    observations.push({
      id: o.ids?.[i] ?? `#${i}`,
      at: (o.at?.[i] as number | undefined) ?? i,
      ...(period === undefined ? {} : { period }),
      outputs,
      inputs,
      ...(Number.isFinite(prediction) ? { prediction } : {}),
      ...(Number.isFinite(actual) ? { actual } : {}),
    });
  }
  const references: Record<string, number> = { ...(data.reference.metrics ?? {}) };
  if (data.reference.maseScale !== undefined) references.scale = data.reference.maseScale;
  const now = data.now ?? (o.at && o.at.length > 0 ? (o.at[o.at.length - 1] as number) : n);
  return new InMemoryRuleData({ observations, references, now });
}

async function evaluateRuleCheck(check: ResolvedRuleCheck, data: ModelMonitoringData): Promise<CheckResult> {
  const rule = parseRule(check.rule, {
    ...(check.defaultWindow ? { defaultWindow: toRuleWindow(check.defaultWindow) } : {}),
    modelKind: data.kind === "forecast" ? "forecast" : "predictor",
  });
  const evaluation = await evaluateRule(rule, data.rules ?? observationsAsRuleData(data));
  const observations = evaluation.windows.reduce((m, w: WindowEvidence) => Math.max(m, w.observations), 0);
  const size = evaluation.windows.reduce((m, w: WindowEvidence) => Math.max(m, w.window.size), 0);
  const n = rowCount(data.observations);
  const latest = n === 0 ? null : latestOf(data.observations, [n - 1]);
  const outcome =
    evaluation.outcome !== "inconclusive" && observations < check.minSample
      ? "inconclusive"
      : evaluation.outcome;
  const reasons =
    outcome === "violated"
      ? [`rule "${check.rule}" is violated`]
      : outcome === "inconclusive"
        ? evaluation.reasons.length > 0
          ? [...evaluation.reasons]
          : [`${observations} of the ${check.minSample} observations needed`]
        : [];
  return result(
    check,
    outcome,
    reasons,
    {
      statistic: null,
      threshold: null,
      direction: "above",
      windowSize: size,
      observations,
      detail: { windows: evaluation.windows, references: evaluation.references },
    },
    latest,
  );
}

/**
 * Evaluate one model's checks (from `resolveChecks`) over its monitoring data, in the checks' order.
 *
 * @example
 * const results = await evaluateChecks(resolveChecks(config, data.model), data, { calibration });
 * modelHealth(data.model, results).level; // "healthy" | "warning" | "critical"
 */
export async function evaluateChecks(
  checks: readonly ResolvedCheck[],
  data: ModelMonitoringData,
  options: EvaluateOptions = {},
): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const check of checks) {
    switch (check.kind) {
      case "performance":
        out.push(evaluatePerformance(check, data));
        break;
      case "drift":
        out.push(evaluateDrift(check, data, options.calibration));
        break;
      case "change":
        out.push(evaluateChange(check, data, options.calibration));
        break;
      case "quality":
        out.push(evaluateQuality(check, data));
        break;
      case "rule":
        out.push(await evaluateRuleCheck(check, data));
        break;
    }
  }
  return out;
}

/**
 * How much history the store should load for these checks: the newest `rows` rows, or everything since the
 * version was promoted when a change check watches the whole run (`fullHistory`).
 */
export function requiredHistory(checks: readonly ResolvedCheck[]): { rows: number; fullHistory: boolean } {
  let rows = 0;
  let fullHistory = false;
  for (const c of checks) {
    switch (c.kind) {
      case "performance":
      case "quality":
        rows = Math.max(rows, c.window);
        break;
      case "drift":
        rows = Math.max(rows, c.windowSize);
        break;
      case "change":
        fullHistory = true;
        break;
      case "rule":
        break;
    }
  }
  return { rows, fullHistory };
}
