/**
 * Monitoring statistics: reference profiles, drift statistics, per-model threshold calibration, change
 * detection, windowed performance metrics and significance tests. Pure functions, no I/O, deterministic given
 * a seed. See README.md for the table of functions and the calibration.
 */
export {
  type Calibration,
  type CalibrationOptions,
  calibrateThreshold,
} from "./calibration.js";
export {
  type ChangeAlarm,
  type ChangeDetection,
  type CusumOptions,
  cusum,
  type ErrorScale,
  errorScale,
  type PageHinkleyOptions,
  pageHinkley,
  type SpreadMethod,
  scaleErrors,
} from "./change.js";
export { pchisqUpper, pnorm, pnormUpper } from "./distributions.js";
export {
  type CategoricalDrift,
  type ChiSquareResult,
  categoricalDrift,
  chiSquare,
  DRIFT_EPSILON,
  jensenShannon,
  ksStatistic,
  type NumericDrift,
  numericDrift,
  psi,
  wasserstein1,
} from "./drift.js";
export {
  accuracy,
  auc,
  brierScore,
  type CalibrationErrorOptions,
  type ClassifierWindowMetrics,
  classifierWindowMetrics,
  expectedCalibrationError,
  type ForecastWindowInput,
  type ForecastWindowMetrics,
  forecastWindowMetrics,
  logLoss,
  type RegressionWindowMetrics,
  regressionWindowMetrics,
} from "./performance.js";
export {
  buildCategoricalProfile,
  buildNumericProfile,
  type CategoricalProfile,
  type CategoricalProfileOptions,
  type CategoricalWindowSummary,
  categoricalFractions,
  type NumericProfile,
  type NumericProfileOptions,
  type NumericWindowSummary,
  OTHER_CATEGORY,
  profileCdf,
  profileQuantile,
  summariseCategoricalWindow,
  summariseNumericWindow,
} from "./profile.js";
export { createRng, type Rng } from "./random.js";
export {
  type Alternative,
  type DieboldMarianoOptions,
  type DieboldMarianoResult,
  dieboldMariano,
  type MannWhitneyOptions,
  type MannWhitneyResult,
  mannWhitney,
} from "./significance.js";
