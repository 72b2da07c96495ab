/**
 * Monitoring checks: per-fleet configuration with per-model overrides (`parseChecksConfig`, `resolveChecks`),
 * per-model calibration computed once and kept as JSON (`calibrate`), evaluation over a data port
 * (`evaluateChecks` → satisfied | violated | inconclusive with evidence) and health (`modelHealth`,
 * `summarise`). Pure domain code; the store implements `ModelMonitoringData`. See README.md.
 */
export {
  type ChangeCalibration,
  type CheckCalibration,
  calibrate,
  type DriftCalibration,
  MIN_VALIDATION_ERRORS,
  type ModelCalibration,
} from "./check-calibration.js";
export {
  CHECK_DEFAULTS,
  type CheckKind,
  CheckSchema,
  type CheckSpec,
  type ChecksConfig,
  ChecksConfigSchema,
  DRIFT_STATISTICS,
  type DriftStatistic,
  PERFORMANCE_METRICS,
  type PerformanceMetric,
  parseChecksConfig,
  type ResolvedChangeCheck,
  type ResolvedCheck,
  type ResolvedDriftCheck,
  type ResolvedPerformanceCheck,
  type ResolvedQualityCheck,
  type ResolvedRuleCheck,
  resolveChecks,
} from "./check-config.js";
export {
  type CalibrationEvidence,
  type CheckEvidence,
  type CheckOutcome,
  type CheckResult,
  type EvaluateOptions,
  evaluateChecks,
  observationsAsRuleData,
  requiredHistory,
} from "./check-evaluator.js";
export {
  type DetectionCell,
  type DetectionExperimentOptions,
  type DetectionReport,
  type Detector,
  type DetectorReport,
  type ExperimentSeries,
  formatDetectionReport,
  runDetectionExperiment,
  type ShiftSize,
} from "./detection-experiment.js";
export {
  compareHealth,
  compareResults,
  type HealthLevel,
  type HealthReason,
  type HealthSummary,
  type ModelHealth,
  modelHealth,
  summarise,
} from "./health.js";
export type {
  FeatureReference,
  ModelMonitoringData,
  ModelReference,
  MonitoredModelKind,
  MonitoringObservations,
} from "./monitoring-data.js";
