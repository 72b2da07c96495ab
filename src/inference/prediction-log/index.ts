/**
 * The prediction log: sampled predictions buffered in memory and written in batches, off the response path,
 * for the monitoring capability to read. See ../README.md, "Prediction log".
 */
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
export type {
  LoggedTensors,
  PredictionLogRow,
  PredictionRecord,
  PredictionRoute,
  TruncatedTensors,
} from "./prediction-record.js";
