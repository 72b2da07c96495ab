/**
 * The inference server's model cache: lazy single-flight loads, LRU eviction under a byte budget with a
 * minimum residency, pinning, remembered load failures with backoff, and a recycling hook. Pure: no I/O.
 */
export {
  CacheFullError,
  isModelCacheError,
  ModelCacheError,
  ModelLoadError,
  ModelTooLargeError,
  PermanentLoadError,
} from "./cache-errors.js";
export {
  type CacheClock,
  type LoadedModel,
  ModelCache,
  type ModelCacheEvent,
  type ModelCacheOptions,
  type ModelCacheStats,
  type ModelLease,
  type ModelState,
  type ModelStateInfo,
  type PreloadResult,
  type RetryPolicy,
} from "./model-cache.js";
