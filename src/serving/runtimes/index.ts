/**
 * Model runtimes behind one interface (`ModelRuntime` → `LoadedModel`): `onnx` runs onnxruntime-node
 * sessions on worker threads, `skala.forecast` serves fleet forecast artifacts in-process. The version's
 * runtime field picks one; see README.md.
 */
export {
  createForecastRuntime,
  FORECAST_FORMAT,
  FORECAST_INPUT_HISTORY,
  FORECAST_INPUT_HORIZON,
  FORECAST_OUTPUT_LEVELS,
  FORECAST_OUTPUT_MEAN,
  FORECAST_OUTPUT_QUANTILES,
  FORECAST_PLATFORM,
  type ForecastArtifact,
  type ForecastRuntimeOptions,
  MAX_FORECAST_HISTORY,
  MAX_FORECAST_HORIZON,
  parseForecastArtifact,
  refitSpec,
} from "./forecast-runtime.js";
export {
  DEFAULT_BATCH_MAX_ROWS,
  type OnnxBatchingOptions,
  type OnnxBatchStats,
} from "./onnx-batcher.js";
export {
  createOnnxRuntime,
  ONNX_PLATFORM,
  type OnnxRuntime,
  type OnnxRuntimeOptions,
} from "./onnx-runtime.js";
export {
  type OnnxSessionHandle,
  OnnxWorkerPool,
  type OnnxWorkerPoolOptions,
  type OnnxWorkerStats,
} from "./onnx-worker-pool.js";
export {
  type InferOptions,
  InvalidArtifactError,
  isRuntimeName,
  type LoadedModel,
  type LoadedModelMetadata,
  type LoadOptions,
  type ModelRuntime,
  RUNTIME_NAMES,
  type RuntimeName,
  runtimeUnavailable,
  type TensorMeta,
} from "./runtime.js";
export { createRuntimes, type RuntimeSet } from "./runtime-set.js";
