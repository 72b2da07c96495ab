import { SkalaError } from "../../core/index.js";

/**
 * The model cache's typed failures. Every one of them is a "not ready right now" answer (MODEL_NOT_READY), so
 * each carries `retryAfterMs` for the server's Retry-After header; the HTTP layer maps the code like any other
 * and the cache stays free of HTTP.
 */
export class ModelCacheError extends SkalaError {
  readonly key: string;
  /** How long the client should wait before trying again; the server rounds it up to whole seconds. */
  declare readonly retryAfterMs: number;

  constructor(key: string, message: string, retryAfterMs: number, options?: { cause?: unknown }) {
    super("MODEL_NOT_READY", message, undefined, { ...options, retryAfterMs });
    this.name = "ModelCacheError";
    this.key = key;
  }
}

/**
 * No room: loading the model would exceed the memory budget and nothing can be evicted yet (every resident
 * model is pinned, in use, or younger than the minimum residency). Refusing is deliberate: exceeding the
 * budget is how a many-model process gets OOM-killed, taking every model down with it.
 */
export class CacheFullError extends ModelCacheError {
  readonly neededBytes: number;
  readonly budgetBytes: number;

  constructor(key: string, neededBytes: number, budgetBytes: number, retryAfterMs: number) {
    super(
      key,
      `no room to load model ${JSON.stringify(key)}: it needs ${neededBytes} bytes and the ${budgetBytes}-byte cache ` +
        "holds only pinned, in-use or recently loaded models",
      retryAfterMs,
    );
    this.name = "CacheFullError";
    this.neededBytes = neededBytes;
    this.budgetBytes = budgetBytes;
  }
}

/**
 * The model could not be loaded. The reason is remembered for a backoff window, so requests inside it fail
 * fast with the same reason instead of hammering a broken artifact; `attempts` counts consecutive failures.
 * A `permanent` failure (the loader threw a PermanentLoadError) is remembered without a window: no request
 * retries it, only an explicit `loadModel` does, so `retryAfterMs` means nothing for it.
 */
export class ModelLoadError extends ModelCacheError {
  readonly reason: string;
  readonly attempts: number;
  readonly permanent: boolean;

  constructor(
    key: string,
    reason: string,
    retryAfterMs: number,
    attempts: number,
    options?: { cause?: unknown; permanent?: boolean },
  ) {
    super(key, `model ${JSON.stringify(key)} failed to load: ${reason}`, retryAfterMs, options);
    this.name = "ModelLoadError";
    this.reason = reason;
    this.attempts = attempts;
    this.permanent = options?.permanent ?? false;
  }
}

/**
 * What a loader throws when retrying cannot help: the artifact is corrupt, or names a runtime this process
 * lacks. The cache then stops retrying on requests (backing off would only answer "try again" forever).
 */
export class PermanentLoadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PermanentLoadError";
  }
}

/**
 * The model alone is larger than the whole budget, so no amount of eviction helps. It is a load failure (and
 * remembered as one) rather than a CacheFullError, because retrying soon cannot succeed.
 */
export class ModelTooLargeError extends ModelLoadError {
  readonly sizeBytes: number;
  readonly budgetBytes: number;

  /** Whether `sizeBytes` is the loader's measurement or the pre-load estimate that refused the load. */
  readonly basis: "measured" | "estimated";

  constructor(
    key: string,
    sizeBytes: number,
    budgetBytes: number,
    retryAfterMs: number,
    attempts: number,
    basis: "measured" | "estimated",
  ) {
    super(
      key,
      `it ${basis === "measured" ? "needs" : "is estimated at"} ${sizeBytes} bytes, more than the whole cache budget of ${budgetBytes} bytes`,
      retryAfterMs,
      attempts,
    );
    this.name = "ModelTooLargeError";
    this.sizeBytes = sizeBytes;
    this.budgetBytes = budgetBytes;
    this.basis = basis;
  }
}

export function isModelCacheError(error: unknown): error is ModelCacheError {
  return error instanceof ModelCacheError;
}
