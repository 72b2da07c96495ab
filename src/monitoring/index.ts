/**
 * Monitoring: the prediction log (sampled predictions buffered in memory and written in batches off the response
 * path; serving hands records to it through its `PredictionRecorder` port), the statistics the checks compute
 * (`statistics/`: profiles, drift, calibration, change detection, window metrics, significance tests) and the
 * runtime rule language (`rules/`). See README.md.
 */

export * from "./checks/index.js";
export {
  type FeedbackRow,
  type IngestCounts,
  type IngestKind,
  type IngestProblem,
  type IngestResult,
  MAX_BATCH_ROWS,
  type PredictionRow,
  REJECTION_REASONS,
  type RejectionReason,
} from "./ingest.types.js";
export { parseFeedback, parsePrediction } from "./ingest-validation.js";
export { monitoringApi } from "./monitoring.api.js";
export { createKyselyMonitoringStore } from "./monitoring.repository.js";
export { monitoringRoutes } from "./monitoring.routes.js";
export {
  type IngestEvent,
  MonitoringService,
  type MonitoringServiceOptions,
  scheduleMonitoringRetention,
} from "./monitoring.service.js";
export type {
  JoinedFeedback,
  MonitoringStore,
  MonitoringStoreTx,
  PredictionWindow,
} from "./monitoring-store.js";
export {
  createStorePredictionSink,
  type ListPredictionsQuery,
  type LoggedPrediction,
  listPredictions,
  prunePredictions,
  schedulePredictionPruning,
} from "./prediction-log.repository.js";
export {
  type PredictionLogErrorContext,
  PredictionLogger,
  type PredictionLoggerOptions,
  type PredictionLogStats,
  type PredictionSink,
  sampleFraction,
} from "./prediction-logger.js";
export type { LoggedTensors, PredictionLogRow, TruncatedTensors } from "./prediction-record.js";
export * from "./rules/index.js";
export * from "./statistics/index.js";
