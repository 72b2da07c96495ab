/**
 * Per-model calibration of the checks that need one, computed once from the model's reference and kept as
 * plain JSON next to the model version: drift thresholds (the bootstrap (1 − α) quantile of the statistic over
 * reference windows of the monitored size, `calibrateThreshold`) and change-detector thresholds (the (1 − α)
 * quantile of the detector's largest statistic over `horizon` periods of validation errors resampled and
 * scaled by the model's own error spread). Evaluation reads these instead of resampling every time.
 */
import {
  buildCategoricalProfile,
  buildNumericProfile,
  type Calibration,
  type CategoricalProfile,
  type ChangeDetection,
  calibrateThreshold,
  categoricalDrift,
  cusum,
  type ErrorScale,
  errorScale,
  type NumericProfile,
  numericDrift,
  OTHER_CATEGORY,
  pageHinkley,
  profileQuantile,
  scaleErrors,
} from "../statistics/index.js";
import type {
  DriftStatistic,
  ResolvedChangeCheck,
  ResolvedCheck,
  ResolvedDriftCheck,
} from "./check-config.js";
import type { FeatureReference, ModelReference } from "./monitoring-data.js";

export interface DriftCalibration {
  readonly kind: "drift";
  /** The settings it was made for; evaluation recalibrates when the check's differ. */
  readonly key: string;
  readonly threshold: number;
  readonly source: "calibrated" | "explicit";
  /** The bootstrap's record (null for an explicit threshold). */
  readonly calibration: Calibration | null;
  /** Resampled from values rebuilt from the profile, as the reference sample was not kept. */
  readonly pseudoSample: boolean;
  readonly referenceSize: number;
}

export interface ChangeCalibration {
  readonly kind: "change";
  readonly key: string;
  readonly scale: ErrorScale;
  /** Decision threshold in spread units. */
  readonly h: number;
  readonly source: "calibrated" | "explicit";
  readonly calibration: Calibration | null;
  readonly validationErrors: number;
}

export type CheckCalibration = DriftCalibration | ChangeCalibration;

/** Everything one model's checks need calibrated, as JSON. */
export interface ModelCalibration {
  readonly format: "skala.check-calibration";
  readonly version: 1;
  readonly checks: Readonly<Record<string, CheckCalibration>>;
  /** Checks that could not be calibrated and why (they evaluate as inconclusive). */
  readonly problems: Readonly<Record<string, string>>;
}

/** Validation errors needed to estimate an error spread. */
export const MIN_VALIDATION_ERRORS = 8;
/** Largest pseudo-sample rebuilt from a profile. */
const PSEUDO_SAMPLE_MAX = 5000;

export function driftKey(check: ResolvedDriftCheck): string {
  return JSON.stringify([
    check.target,
    check.statistic,
    check.windowSize,
    check.threshold ?? null,
    check.alpha,
    check.resamples,
    check.seed,
  ]);
}

export function changeKey(check: ResolvedChangeCheck): string {
  return JSON.stringify([
    check.detector,
    check.k,
    check.h ?? null,
    check.alpha,
    check.horizon,
    check.spread,
    check.resamples,
    check.seed,
  ]);
}

/** The reference of a drift target (`prediction` or `inputs.<name>`). */
export function targetReference(reference: ModelReference, target: string): FeatureReference | undefined {
  if (target === "prediction") return reference.prediction;
  const name = target.slice("inputs.".length);
  const features = reference.features;
  return features !== undefined && Object.hasOwn(features, name) ? features[name] : undefined;
}

type Sample = number[] | (string | null)[];

/** The reference values to resample: the kept sample, or one rebuilt from the profile. */
function referenceSample(feature: FeatureReference): { values: Sample; pseudo: boolean } {
  if (feature.sample !== undefined && feature.sample.length > 0) {
    const values = Array.from(feature.sample as ArrayLike<number | string>);
    return { values: values as Sample, pseudo: false };
  }
  const profile = feature.profile;
  const n = Math.max(
    1,
    Math.min(PSEUDO_SAMPLE_MAX, Math.round(profile.count * (1 - profile.missingFraction))),
  );
  if (profile.kind === "numeric")
    return {
      values: Array.from({ length: n }, (_, i) => profileQuantile(profile, (i + 0.5) / n)),
      pseudo: true,
    };
  const values: string[] = [];
  const pool = [
    ...profile.categories,
    { value: `${OTHER_CATEGORY}:pseudo`, fraction: profile.otherFraction },
  ];
  for (const c of pool) for (let i = Math.round(c.fraction * n); i > 0; i--) values.push(c.value);
  return { values, pseudo: true };
}

/** The drift statistic of a window against a profile; undefined where it does not apply (KS on categories). */
export function driftStatistic(
  profile: NumericProfile | CategoricalProfile,
  statistic: DriftStatistic,
  window: ArrayLike<number | string | null | undefined>,
): number | undefined {
  if (profile.kind === "numeric") {
    const d = numericDrift(profile, window as ArrayLike<number | null | undefined>);
    switch (statistic) {
      case "psi":
        return d.psi;
      case "ks":
        return d.ks;
      case "chi2":
        return d.chiSquare.statistic;
      case "js":
        return d.jensenShannon;
      case "wasserstein":
        return d.wasserstein;
    }
  }
  const d = categoricalDrift(profile, window as ArrayLike<string | null | undefined>);
  switch (statistic) {
    case "psi":
      return d.psi;
    case "chi2":
      return d.chiSquare.statistic;
    case "js":
      return d.jensenShannon;
    case "ks":
    case "wasserstein":
      return undefined;
  }
}

function calibrateDrift(check: ResolvedDriftCheck, reference: ModelReference): DriftCalibration | string {
  const feature = targetReference(reference, check.target);
  if (feature === undefined) return `the reference has no profile of ${check.target}`;
  const referenceSize = feature.sample?.length ?? feature.profile.count;
  if (
    feature.profile.kind === "categorical" &&
    (check.statistic === "ks" || check.statistic === "wasserstein")
  )
    return `${check.statistic} needs a numeric ${check.target}; it is categorical`;
  const key = driftKey(check);
  if (check.threshold !== undefined)
    return {
      kind: "drift",
      key,
      threshold: check.threshold,
      source: "explicit",
      calibration: null,
      pseudoSample: false,
      referenceSize,
    };
  const { values, pseudo } = referenceSample(feature);
  const numeric = feature.profile.kind === "numeric";
  const statisticFor = (ref: ArrayLike<number | string | null>) => {
    const profile = numeric
      ? buildNumericProfile(ref as ArrayLike<number>)
      : buildCategoricalProfile(ref as ArrayLike<string>, {
          topK: (feature.profile as CategoricalProfile).categories.length,
        });
    return (window: (number | string | null)[]) => driftStatistic(profile, check.statistic, window) as number;
  };
  const calibration = calibrateThreshold<number | string | null>(values, statisticFor, {
    windowSize: check.windowSize,
    alpha: check.alpha,
    resamples: check.resamples,
    seed: check.seed,
  });
  return {
    kind: "drift",
    key,
    threshold: calibration.threshold,
    source: "calibrated",
    calibration,
    pseudoSample: pseudo,
    referenceSize,
  };
}

/** Run a change detector with the check's allowance and threshold over scaled errors. */
export function runDetector(
  check: ResolvedChangeCheck,
  scaled: ArrayLike<number>,
  h: number,
): ChangeDetection {
  return check.detector === "cusum"
    ? cusum(scaled, { k: check.k, h })
    : pageHinkley(scaled, { delta: check.k, lambda: h });
}

/**
 * The largest value the detector's statistic reaches over the errors (scaled here; no alarm, no reset): the
 * same recursions as `cusum` and `pageHinkley` (running mean), without their allocations.
 */
function peak(check: ResolvedChangeCheck, errors: ArrayLike<number>, scale: ErrorScale): number {
  let max = 0;
  if (check.detector === "cusum") {
    let up = 0;
    let down = 0;
    for (let i = 0; i < errors.length; i++) {
      const z = ((errors[i] as number) - scale.center) / scale.spread;
      up = Math.max(0, up + z - check.k);
      down = Math.max(0, down - z - check.k);
      max = Math.max(max, up, down);
    }
    return max;
  }
  const run = runDetector(check, scaleErrors(errors, scale), Number.MAX_VALUE);
  for (let i = 0; i < run.upper.length; i++)
    max = Math.max(max, run.upper[i] as number, run.lower[i] as number);
  return max;
}

/**
 * The error scale of a change check. `auto` takes the robust MAD unless it is degenerate — below a quarter of
 * the MAE-based spread, as for intermittent demand whose errors are mostly one small value (a slowly moving
 * level minus zero) — and then the MAE-based spread; the fixed methods fall back to `sd` only when they give
 * zero.
 */
export function changeScale(errors: ArrayLike<number>, spread: ResolvedChangeCheck["spread"]): ErrorScale {
  if (spread === "auto") {
    const mae = errorScale(errors, "mae");
    try {
      const mad = errorScale(errors, "mad");
      return mad.spread >= 0.25 * mae.spread ? mad : mae;
    } catch {
      return mae;
    }
  }
  try {
    return errorScale(errors, spread);
  } catch {
    return errorScale(errors, "sd");
  }
}

function calibrateChange(check: ResolvedChangeCheck, reference: ModelReference): ChangeCalibration | string {
  const errors = Array.from(reference.validationErrors ?? []).filter((e) => Number.isFinite(e));
  if (errors.length < MIN_VALIDATION_ERRORS)
    return `needs at least ${MIN_VALIDATION_ERRORS} validation errors, the reference has ${errors.length}`;
  let scale: ErrorScale;
  try {
    scale = changeScale(errors, check.spread);
  } catch {
    return "the validation errors have no spread";
  }
  const key = changeKey(check);
  if (check.h !== undefined)
    return {
      kind: "change",
      key,
      scale,
      h: check.h,
      source: "explicit",
      calibration: null,
      validationErrors: errors.length,
    };
  // The live check scales by this fixed scale, so the bootstrap resamples windows of errors only (re-estimating
  // the scale from redrawn samples would, for intermittent errors, often drop the rare spikes from the scale
  // but not from the windows, and blow the threshold up).
  const statisticFor = () => (window: number[]) => peak(check, window, scale);
  const calibration = calibrateThreshold(errors, statisticFor, {
    windowSize: check.horizon,
    alpha: check.alpha,
    resamples: check.resamples,
    seed: check.seed,
    resampleReference: false,
  });
  return {
    kind: "change",
    key,
    scale,
    h: Math.max(calibration.threshold, check.k),
    source: "calibrated",
    calibration,
    validationErrors: errors.length,
  };
}

/**
 * Calibrate one model's checks from its reference (once per model version and configuration).
 *
 * @example
 * const checks = resolveChecks(config, "part-17");
 * const calibration = calibrate(checks, reference); // store as JSON with the version
 * const results = await evaluateChecks(checks, data, { calibration });
 */
export function calibrate(checks: readonly ResolvedCheck[], reference: ModelReference): ModelCalibration {
  const out: Record<string, CheckCalibration> = {};
  const problems: Record<string, string> = {};
  for (const check of checks) {
    if (check.kind !== "drift" && check.kind !== "change") continue;
    const result =
      check.kind === "drift" ? calibrateDrift(check, reference) : calibrateChange(check, reference);
    if (typeof result === "string") problems[check.id] = result;
    else out[check.id] = result;
  }
  return { format: "skala.check-calibration", version: 1, checks: out, problems };
}

/** The calibration of one check: the cached one when its settings match, else computed now. */
export function calibrationFor(
  check: ResolvedDriftCheck | ResolvedChangeCheck,
  reference: ModelReference,
  cached: ModelCalibration | undefined,
): { calibration: CheckCalibration; cached: boolean } | { problem: string } {
  const entry = cached?.checks[check.id];
  const key = check.kind === "drift" ? driftKey(check) : changeKey(check);
  if (entry !== undefined && entry.kind === check.kind && entry.key === key)
    return { calibration: entry, cached: true };
  const fresh = check.kind === "drift" ? calibrateDrift(check, reference) : calibrateChange(check, reference);
  return typeof fresh === "string" ? { problem: fresh } : { calibration: fresh, cached: false };
}
