/**
 * The inference server: the Open Inference Protocol v2 over every registered model of a project, loaded on
 * demand through a memory-bounded model cache by the runtime each version names. See README.md.
 */

export { AdmissionGate } from "./admission.js";
export {
  CacheFullError,
  isModelCacheError,
  ModelCache,
  type ModelCacheEvent,
  type ModelCacheStats,
  ModelLoadError,
  type ModelStateInfo,
} from "./cache/index.js";
export {
  BATCHING_TAG,
  createInferenceService,
  DEFAULT_ALIAS,
  INFERENCE_EXTENSIONS,
  type InferContext,
  type InferenceService,
  type InferenceServiceOptions,
  type InferenceStats,
  ModelNotReadyError,
  type PredictionRecorder,
  type ReadyAnswer,
  type RepositoryIndexEntry,
  type RepositoryState,
} from "./inference.service.js";
export {
  isOipUrl,
  OIP_PREFIX,
  type OipRoutesOptions,
  oipRoutes,
  sendOipError,
  toOipFailure,
} from "./oip.routes.js";
export {
  createStorePredictionSink,
  type ListPredictionsQuery,
  type LoggedPrediction,
  type LoggedTensors,
  listPredictions,
  type PredictionLogErrorContext,
  PredictionLogger,
  type PredictionLoggerOptions,
  type PredictionLogRow,
  type PredictionLogStats,
  type PredictionRecord,
  type PredictionRoute,
  type PredictionSink,
  prunePredictions,
  sampleFraction,
  schedulePredictionPruning,
  type TruncatedTensors,
} from "./prediction-log/index.js";
export {
  DATATYPES,
  type Datatype,
  decodeInferRequest,
  encodeInferResponse,
  type InferLimits,
  type InferRequest,
  type InferResponseBody,
  isProtocolError,
  type ModelMetadata,
  ProtocolError,
  type ServerMetadata,
  type Tensor,
} from "./protocol/index.js";
export { pickRoute, stableHash, trafficPoint } from "./routing.js";
export {
  createRuntimes,
  FORECAST_FORMAT,
  type ForecastArtifact,
  type LoadedModel,
  type ModelRuntime,
  type OnnxBatchingOptions,
  type OnnxBatchStats,
  type OnnxRuntimeOptions,
  RUNTIME_NAMES,
  type RuntimeName,
  type RuntimeSet,
} from "./runtimes/index.js";
export {
  type InvalidRow,
  type InvalidRowPolicy,
  planColumns,
  SCORE_JOB,
  type ScoringJob,
  type ScoringOutputFile,
  ScoringService,
  type ScoringServiceOptions,
  type SubmitScoringInput,
  type SubmitScoringResult,
  scoringRoutes,
} from "./scoring/index.js";
export { LATENCY_BUCKETS_SECONDS, ModelTraffic, OTHER_MODELS, type TrafficSnapshot } from "./traffic.js";
