/**
 * The inference server: the Open Inference Protocol v2 over every registered model of a project, loaded on
 * demand through a memory-bounded model cache by the runtime each version names. See README.md.
 */
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
  createInferenceService,
  DEFAULT_ALIAS,
  INFERENCE_EXTENSIONS,
  type InferenceService,
  type InferenceServiceOptions,
  ModelNotReadyError,
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
export {
  createRuntimes,
  FORECAST_FORMAT,
  type ForecastArtifact,
  type LoadedModel,
  type ModelRuntime,
  type OnnxRuntimeOptions,
  RUNTIME_NAMES,
  type RuntimeName,
  type RuntimeSet,
} from "./runtimes/index.js";
