import type { RuleData } from "../rules/index.js";
import type { CategoricalProfile, NumericProfile } from "../statistics/index.js";

export type MonitoredModelKind = "forecast" | "classifier" | "regression";

/** One feature (or the prediction) as the reference saw it. */
export interface FeatureReference {
  readonly profile: NumericProfile | CategoricalProfile;
  /**
   * The reference sample itself, when the store kept one (calibration resamples it). Without it, calibration
   * resamples a pseudo-sample rebuilt from the profile's quantiles (numeric) or fractions (categorical).
   */
  readonly sample?: ArrayLike<number> | readonly string[];
}

/** What the model looked like when it was registered: profiles, validation errors and metrics. */
export interface ModelReference {
  readonly features?: Readonly<Record<string, FeatureReference>>;
  readonly prediction?: FeatureReference;
  /** Validation (or in-sample one-step) errors, actual − prediction, oldest first: the change checks' scale. */
  readonly validationErrors?: ArrayLike<number>;
  /**
   * The model's metrics on validation, by performance metric name (`mae`, `mase`, `coverage_80`, `accuracy`,
   * `auc`, `logloss`, `ece`, `rmse`, `bias`). A performance check compares its window with these.
   */
  readonly metrics?: Readonly<Record<string, number>>;
  /** The MASE denominator (in-sample seasonal-naive MAE) for forecast models. */
  readonly maseScale?: number;
}

/**
 * Recent observations of one model, oldest first: one row per forecast period (forecast models) or per
 * prediction. Every column has one value per row; NaN (or null for inputs) where a row has none (an actual
 * that has not arrived yet).
 */
export interface MonitoringObservations {
  /** Prediction ids (rules' evidence lists them); default `#<row>`. */
  readonly ids?: readonly string[];
  /** Forecast period per row (increasing), for forecast models. */
  readonly periods?: ArrayLike<number>;
  /** When each prediction was made, ms since the epoch (time windows of rules). */
  readonly at?: ArrayLike<number>;
  /** Point prediction (forecast mean, regression value, predicted class index). */
  readonly prediction: ArrayLike<number>;
  readonly actual: ArrayLike<number>;
  /** Probability of the positive class (binary classifiers: AUC, log-loss, ECE). */
  readonly probability?: ArrayLike<number>;
  /** Interval bounds by level (80: the central 80 % interval). */
  readonly lower?: Readonly<Record<number, ArrayLike<number>>>;
  readonly upper?: Readonly<Record<number, ArrayLike<number>>>;
  /** Input features by name. */
  readonly inputs?: Readonly<Record<string, ArrayLike<number | string | null>>>;
}

/**
 * The port through which the checks read one model: its kind, its reference and its recent observations. The
 * prediction/feedback store implements it (it loads `requiredHistory(checks)` rows); tests and examples build
 * it in memory.
 */
export interface ModelMonitoringData {
  readonly model: string;
  readonly kind: MonitoredModelKind;
  readonly reference: ModelReference;
  readonly observations: MonitoringObservations;
  /** The end of time windows (ms); default the newest `at`. */
  readonly now?: number;
  /** What rule checks read; default an in-memory view of `observations`. */
  readonly rules?: RuleData;
}
