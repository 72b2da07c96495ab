/**
 * Serving: the Open Inference Protocol v2 over every registered model of a project, loaded on demand through a
 * memory-bounded model cache by the runtime each version names. See README.md.
 */

export { AdmissionGate } from "./admission.js";
export { artifactValidator } from "./artifact-validator.js";
export {
  CacheFullError,
  isModelCacheError,
  ModelCache,
  type ModelCacheEvent,
  type ModelCacheStats,
  ModelLoadError,
  type ModelStateInfo,
  PermanentLoadError,
} from "./cache/index.js";
export {
  BATCHING_TAG,
  createInferenceService,
  DEFAULT_ALIAS,
  INFERENCE_EXTENSIONS,
  type InferContext,
  type InferenceCacheEvent,
  type InferenceObserver,
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
  type OipErrorSender,
  type OipRoutesOptions,
  oipRoutes,
} from "./oip.routes.js";
export * as oipSchemas from "./oip.schemas.js";
export { ProtocolErrorSchema } from "./oip.schemas.js";
export type { PredictionRecord, PredictionRoute } from "./prediction-record.js";
export {
  DATATYPES,
  type Datatype,
  decodeInferRequest,
  encodeInferResponse,
  encodeTensor,
  type InferLimits,
  type InferRequest,
  type InferResponseBody,
  isProtocolError,
  type ModelMetadata,
  ProtocolError,
  type ProtocolErrorCode,
  type ServerMetadata,
  type Tensor,
  type TensorJson,
} from "./protocol/index.js";
export { pickRoute, stableHash, trafficPoint } from "./routing.js";
export {
  createRuntimes,
  FORECAST_FORMAT,
  type ForecastArtifact,
  InvalidArtifactError,
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
  LATENCY_BUCKETS_SECONDS,
  RECENT_WINDOW_SECONDS,
  type RecentModelTraffic,
  RecentTraffic,
  type TrafficSnapshot,
} from "./traffic.js";
