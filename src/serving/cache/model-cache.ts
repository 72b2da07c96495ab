import { CacheFullError, ModelLoadError, ModelTooLargeError, PermanentLoadError } from "./cache-errors.js";

/**
 * A model cache for a many-model inference server: lazy single-flight loads, LRU eviction under a byte budget
 * with a minimum residency, pinning, remembered load failures with exponential backoff, and drain-before-unload
 * reference counting. It is pure: loading, unloading and time are injected, and it starts no timers (backoff
 * windows are checked when the next request arrives), so tests drive it with a fake clock and fake loaders.
 */

/** Milliseconds, monotonic enough for residency and backoff arithmetic (`performance.now()` or `Date.now()`). */
export interface CacheClock {
  now(): number;
}

export interface LoadedModel<M> {
  model: M;
  /** What the model costs against the budget; the brief's rule of thumb is file size × 1.25 until measured. */
  sizeBytes: number;
}

export interface RetryPolicy {
  /** Backoff after the first failure; it doubles with each consecutive failure. */
  baseMs: number;
  maxMs: number;
}

export interface ModelCacheOptions<M> {
  load: (key: string, signal: AbortSignal) => Promise<LoadedModel<M>>;
  unload: (key: string, model: M) => Promise<void>;
  budgetBytes: number;
  /**
   * A model is not evicted before it has been resident this long. Session creation and release leak native
   * memory in onnxruntime under churn, so thrashing must be bounded (ModelMesh does the same); the price is a
   * CacheFullError (503 + Retry-After) when the cache is full of young models.
   */
  minResidencyMs: number;
  clock: CacheClock;
  retry: RetryPolicy;
  /**
   * The size to reserve before a load, so room is made before the bytes exist rather than after. Defaults to the
   * size the key had the last time it was loaded, else 0 (then the budget can be overshot until the load
   * completes and the cache evicts to compensate). The server should pass file size × 1.25.
   */
  estimateBytes?: (key: string) => number | undefined;
  /** Called synchronously; a throwing listener is ignored so metrics can never break serving. */
  onEvent?: (event: ModelCacheEvent) => void;
}

export type ModelState = "loading" | "ready" | "failed" | "unloading";

/** One row of `/v2/repository/index`. */
export interface ModelStateInfo {
  key: string;
  state: ModelState;
  sizeBytes?: number;
  lastUsedAt?: number;
  loadedAt?: number;
  pinned: boolean;
  inUse: boolean;
  /** Leases currently held. */
  refs: number;
  /** The remembered load failure's reason, while the model is in the failed state. */
  error?: string;
  /** When the next request may retry a failed load (never, for a permanent failure). */
  retryAt?: number;
  /** A failure the loader called permanent: only an explicit load retries it. */
  permanent?: boolean;
}

export interface ModelCacheStats {
  /** Acquires that found the model ready. */
  hits: number;
  /** Acquires that did not: they started or joined a load, or failed fast inside a backoff window. */
  misses: number;
  /** Loader calls (successful or not): each one creates native state, which is what recycling bounds. */
  loads: number;
  loadFailures: number;
  /** Unloads the cache chose to make room. */
  evictions: number;
  /** Unloads asked for by `unloadModel` / `unloadAll`. */
  unloads: number;
  /** Loads refused with CacheFullError. */
  cacheFull: number;
  /** Bytes of models in memory (ready, or unloading and not yet freed). */
  bytesResident: number;
  /** bytesResident plus the reservations of loads in progress: the figure the budget bounds. */
  bytesReserved: number;
  residentModels: number;
  loadsSinceRecycle: number;
  evictionsSinceRecycle: number;
}

export type ModelCacheEvent =
  | { type: "load"; key: string; sizeBytes: number; durationMs: number }
  | {
      type: "fail";
      key: string;
      reason: string;
      attempts: number;
      retryAt: number;
      permanent: boolean;
      /** What the loader threw, when it threw (a refusal on the size estimate has none). */
      cause?: unknown;
    }
  | { type: "evict"; key: string; sizeBytes: number; residentMs: number }
  | { type: "unload"; key: string; sizeBytes: number; residentMs: number }
  | { type: "unload-error"; key: string; reason: string }
  | { type: "cache-full"; key: string; neededBytes: number };

/**
 * A reference to a ready model. While any lease on a model is unreleased the model is neither evicted nor
 * unloaded (an explicit unload waits for it), so a running request can never lose its session underneath it.
 * `release()` is idempotent.
 */
export interface ModelLease<M> {
  readonly key: string;
  readonly model: M;
  release(): void;
}

export interface PreloadResult {
  key: string;
  error?: Error;
}

interface Entry<M> {
  readonly key: string;
  state: ModelState;
  /** Whether `model` holds a loaded value; M itself may legitimately be `undefined`. */
  loaded: boolean;
  model: M | undefined;
  /** The reservation while loading, the measured size once loaded, 0 when failed. */
  bytes: number;
  refs: number;
  /** Acquires that joined the load in flight; each is granted a reference the moment the load succeeds. */
  waiters: number;
  loadedAt: number | undefined;
  lastUsedAt: number | undefined;
  /** Consecutive failures; survives retries so the backoff keeps growing, and is reset by a success. */
  attempts: number;
  failure: ((retryAfterMs: number) => ModelLoadError) | undefined;
  failureReason: string | undefined;
  failurePermanent: boolean;
  retryAt: number | undefined;
  flight: Promise<void> | undefined;
  abort: AbortController | undefined;
  unloaded: Promise<void> | undefined;
  onDrained: (() => void) | undefined;
}

type UnloadReason = "evict" | "explicit" | "discard";

type RoomPlan<M> = { kind: "fits" } | { kind: "evict"; victims: Entry<M>[] } | { kind: "full" };

const noop = (): void => {};

function reasonOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

export class ModelCache<M> {
  readonly #options: ModelCacheOptions<M>;
  /** Insertion order is recency order: a hit or a completed load re-inserts its entry at the end. */
  readonly #entries = new Map<string, Entry<M>>();
  readonly #pinned = new Set<string>();
  readonly #knownSizes = new Map<string, number>();
  readonly #counters = {
    hits: 0,
    misses: 0,
    loads: 0,
    loadFailures: 0,
    evictions: 0,
    unloads: 0,
    cacheFull: 0,
    loadsSinceRecycle: 0,
    evictionsSinceRecycle: 0,
  };

  constructor(options: ModelCacheOptions<M>) {
    const { budgetBytes, minResidencyMs, retry } = options;
    if (!(Number.isFinite(budgetBytes) && budgetBytes > 0)) {
      throw new RangeError(`budgetBytes must be a positive number, got ${budgetBytes}`);
    }
    if (!(Number.isFinite(minResidencyMs) && minResidencyMs >= 0)) {
      throw new RangeError(`minResidencyMs must be a non-negative number, got ${minResidencyMs}`);
    }
    if (!(retry.baseMs > 0 && retry.maxMs >= retry.baseMs && Number.isFinite(retry.maxMs))) {
      throw new RangeError(`retry needs 0 < baseMs <= maxMs, got ${retry.baseMs} and ${retry.maxMs}`);
    }
    this.#options = options;
  }

  get budgetBytes(): number {
    return this.#options.budgetBytes;
  }

  /**
   * Returns a lease on the model, loading it first if needed. Concurrent acquires of a key share one load.
   * Throws CacheFullError when there is no room, ModelLoadError (or ModelTooLargeError) when the load failed
   * now or within the backoff window.
   */
  async acquire(key: string): Promise<ModelLease<M>> {
    let counted = false;
    for (;;) {
      let entry = this.#entries.get(key);
      if (entry?.state === "ready") {
        if (!counted) this.#counters.hits++;
        entry.refs++;
        entry.lastUsedAt = this.#now();
        this.#touch(entry);
        return this.#lease(entry);
      }
      if (!counted) {
        this.#counters.misses++;
        counted = true;
      }
      if (entry?.state === "unloading") {
        // Reloading before the old copy is freed would hold the model twice; wait, then start over.
        await entry.unloaded;
        continue;
      }
      if (entry?.state === "failed") {
        const now = this.#now();
        const retryAt = entry.retryAt ?? now;
        if (now < retryAt && entry.failure !== undefined) throw entry.failure(retryAt - now);
        this.#startLoad(entry);
      } else if (entry === undefined) {
        entry = this.#newEntry(key);
        this.#entries.set(key, entry);
        this.#startLoad(entry);
      }
      entry.waiters++;
      await entry.flight;
      return this.#lease(entry);
    }
  }

  /** Runs `fn` with the model and releases the lease however `fn` ends. The safe way to use the cache. */
  async use<T>(key: string, fn: (model: M) => Promise<T> | T): Promise<T> {
    const lease = await this.acquire(key);
    try {
      return await fn(lease.model);
    } finally {
      lease.release();
    }
  }

  /** Pinned models are never evicted. The pin is kept by key, so it applies to later loads too. */
  pin(key: string): void {
    this.#pinned.add(key);
  }

  unpin(key: string): void {
    this.#pinned.delete(key);
  }

  isPinned(key: string): boolean {
    return this.#pinned.has(key);
  }

  /** Loads keys eagerly (e.g. pinned prod champions at start-up), respecting backoff; never throws. */
  async preload(keys: readonly string[]): Promise<PreloadResult[]> {
    return Promise.all(
      keys.map(async (key): Promise<PreloadResult> => {
        try {
          (await this.acquire(key)).release();
          return { key };
        } catch (error) {
          return { key, error: error instanceof Error ? error : new Error(String(error)) };
        }
      }),
    );
  }

  /**
   * The repository extension's explicit load: an operator asking for it now overrides the backoff window
   * (the failure count is kept, so a second failure still backs off longer). Throws like `acquire`.
   */
  async loadModel(key: string): Promise<void> {
    const entry = this.#entries.get(key);
    if (entry?.state === "failed") entry.retryAt = this.#now();
    (await this.acquire(key)).release();
  }

  /**
   * The repository extension's explicit unload. Waits for leases in use to be released; cancels a load in
   * progress (its waiters get a ModelLoadError); forgets a remembered failure. Pins are kept: a pinned model
   * unloaded by hand is loaded again, still pinned, by the next request. A request arriving meanwhile waits
   * and then loads the model afresh, since the cache loads lazily.
   */
  async unloadModel(key: string): Promise<void> {
    for (;;) {
      const entry = this.#entries.get(key);
      if (entry === undefined) return;
      switch (entry.state) {
        case "failed":
          this.#entries.delete(key);
          return;
        case "unloading":
          await entry.unloaded;
          return;
        case "ready":
          await this.#beginUnload(entry, "explicit");
          return;
        case "loading":
          entry.abort?.abort();
          await entry.flight?.catch(noop);
          // The cancelled load either vanished or is discarding what it loaded; the next turn waits for that.
          continue;
      }
    }
  }

  /** Unloads everything (draining leases); for shutdown and for recycling a runtime worker. */
  async unloadAll(): Promise<void> {
    await Promise.all([...this.#entries.keys()].map((key) => this.unloadModel(key)));
  }

  states(): ModelStateInfo[] {
    const rows: ModelStateInfo[] = [];
    for (const entry of this.#entries.values()) {
      const row: ModelStateInfo = {
        key: entry.key,
        state: entry.state,
        pinned: this.#pinned.has(entry.key),
        inUse: entry.refs > 0,
        refs: entry.refs,
      };
      if (entry.loaded) row.sizeBytes = entry.bytes;
      if (entry.loadedAt !== undefined) row.loadedAt = entry.loadedAt;
      if (entry.lastUsedAt !== undefined) row.lastUsedAt = entry.lastUsedAt;
      if (entry.state === "failed") {
        if (entry.failureReason !== undefined) row.error = entry.failureReason;
        if (entry.retryAt !== undefined) row.retryAt = entry.retryAt;
        if (entry.failurePermanent) row.permanent = true;
      }
      rows.push(row);
    }
    return rows;
  }

  stats(): ModelCacheStats {
    let bytesResident = 0;
    let residentModels = 0;
    for (const entry of this.#entries.values()) {
      if (entry.loaded) {
        bytesResident += entry.bytes;
        residentModels++;
      }
    }
    return { ...this.#counters, bytesResident, bytesReserved: this.#reservedBytes(), residentModels };
  }

  /**
   * The recycling hook. onnxruntime leaks native memory per session created and released, so the server
   * recycles a runtime worker every N loads: on a `load` event it asks `shouldRecycle(N)`, and if so drains the
   * worker (`unloadAll()`, or swaps in a fresh worker with a fresh cache), terminates it and calls
   * `markRecycled()`; pinned models come back through `preload`.
   */
  shouldRecycle(everyLoads: number): boolean {
    return everyLoads > 0 && this.#counters.loadsSinceRecycle >= everyLoads;
  }

  markRecycled(): void {
    this.#counters.loadsSinceRecycle = 0;
    this.#counters.evictionsSinceRecycle = 0;
  }

  #now(): number {
    return this.#options.clock.now();
  }

  #emit(event: ModelCacheEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch {
      // A metrics listener must not be able to fail a load or leak a reservation.
    }
  }

  #newEntry(key: string): Entry<M> {
    return {
      key,
      state: "loading",
      loaded: false,
      model: undefined,
      bytes: 0,
      refs: 0,
      waiters: 0,
      loadedAt: undefined,
      lastUsedAt: undefined,
      attempts: 0,
      failure: undefined,
      failureReason: undefined,
      failurePermanent: false,
      retryAt: undefined,
      flight: undefined,
      abort: undefined,
      unloaded: undefined,
      onDrained: undefined,
    };
  }

  #touch(entry: Entry<M>): void {
    this.#entries.delete(entry.key);
    this.#entries.set(entry.key, entry);
  }

  #lease(entry: Entry<M>): ModelLease<M> {
    let released = false;
    const model = entry.model as M;
    return {
      key: entry.key,
      model,
      release: () => {
        if (released) return;
        released = true;
        entry.refs--;
        if (entry.refs === 0 && entry.onDrained !== undefined) {
          const drained = entry.onDrained;
          entry.onDrained = undefined;
          drained();
        }
      },
    };
  }

  #startLoad(entry: Entry<M>): void {
    entry.state = "loading";
    entry.unloaded = undefined;
    entry.abort = new AbortController();
    entry.flight = this.#runLoad(entry, entry.abort.signal);
    // Every acquire awaits the flight, but a cancelled one may have no waiter left: never an unhandled rejection.
    entry.flight.catch(noop);
  }

  /** Takes a loading entry that will not become ready out of the cache, back to its remembered failure if any. */
  #drop(entry: Entry<M>): void {
    entry.bytes = 0;
    entry.waiters = 0;
    entry.abort = undefined;
    if (entry.failure !== undefined) {
      // A refusal or a cancellation is not the model's fault: keep the failure count, allow a retry now.
      entry.state = "failed";
      entry.retryAt = Math.min(entry.retryAt ?? this.#now(), this.#now());
    } else if (this.#entries.get(entry.key) === entry) {
      this.#entries.delete(entry.key);
    }
  }

  #cancelled(entry: Entry<M>): ModelLoadError {
    return new ModelLoadError(entry.key, "the load was cancelled by an unload", 0, entry.attempts);
  }

  #recordFailure(
    entry: Entry<M>,
    reason: string,
    make: (retryAfterMs: number) => ModelLoadError,
    permanent = false,
    cause?: unknown,
  ): ModelLoadError {
    entry.attempts++;
    const { baseMs, maxMs } = this.#options.retry;
    // A permanent failure has no backoff window to wait out: requests fail fast with it until loadModel.
    const delay = permanent ? Number.POSITIVE_INFINITY : Math.min(maxMs, baseMs * 2 ** (entry.attempts - 1));
    entry.retryAt = this.#now() + delay;
    entry.failure = make;
    entry.failureReason = reason;
    entry.failurePermanent = permanent;
    entry.waiters = 0;
    entry.abort = undefined;
    // A model that did load stays accounted (and "loading") until the caller's discard has freed it.
    if (!entry.loaded) {
      entry.state = "failed";
      entry.bytes = 0;
    }
    this.#counters.loadFailures++;
    this.#emit({
      type: "fail",
      key: entry.key,
      reason,
      attempts: entry.attempts,
      retryAt: entry.retryAt,
      permanent,
      ...(cause !== undefined && { cause }),
    });
    return make(delay);
  }

  async #runLoad(entry: Entry<M>, signal: AbortSignal): Promise<void> {
    const { key } = entry;
    const { budgetBytes } = this.#options;
    const estimate = this.#options.estimateBytes?.(key) ?? this.#knownSizes.get(key) ?? 0;
    const reservation = Math.max(0, Number.isFinite(estimate) ? estimate : 0);
    if (reservation > budgetBytes) {
      // Refused on the estimate alone: loading it would blow the budget before its size could be measured.
      throw this.#recordFailure(
        entry,
        `it is estimated at ${reservation} bytes, more than the whole cache budget of ${budgetBytes} bytes`,
        (retryAfterMs) =>
          new ModelTooLargeError(key, reservation, budgetBytes, retryAfterMs, entry.attempts, "estimated"),
      );
    }
    try {
      await this.#admit(entry, reservation, signal);
    } catch (error) {
      this.#drop(entry);
      throw error;
    }
    if (signal.aborted) {
      this.#drop(entry);
      throw this.#cancelled(entry);
    }

    this.#counters.loads++;
    this.#counters.loadsSinceRecycle++;
    const started = this.#now();
    let result: LoadedModel<M>;
    try {
      result = await this.#options.load(key, signal);
    } catch (cause) {
      if (signal.aborted) {
        this.#drop(entry);
        throw this.#cancelled(entry);
      }
      const reason = reasonOf(cause);
      const permanent = cause instanceof PermanentLoadError;
      throw this.#recordFailure(
        entry,
        reason,
        (retryAfterMs) => new ModelLoadError(key, reason, retryAfterMs, entry.attempts, { cause, permanent }),
        permanent,
        cause,
      );
    }

    const { model, sizeBytes } = result;
    entry.loaded = true;
    entry.model = model;
    entry.bytes = Number.isFinite(sizeBytes) && sizeBytes >= 0 ? sizeBytes : 0;
    entry.loadedAt = this.#now();

    if (signal.aborted) {
      // The loader ignored the signal; the model exists now and must be freed before the slot is reused.
      const error = this.#cancelled(entry);
      entry.waiters = 0;
      void this.#beginUnload(entry, "discard");
      throw error;
    }
    if (!(Number.isFinite(sizeBytes) && sizeBytes >= 0)) {
      const reason = `the loader reported an invalid size (${sizeBytes})`;
      const error = this.#recordFailure(
        entry,
        reason,
        (retryAfterMs) => new ModelLoadError(key, reason, retryAfterMs, entry.attempts),
      );
      void this.#beginUnload(entry, "discard");
      throw error;
    }
    if (sizeBytes > budgetBytes) {
      const error = this.#recordFailure(
        entry,
        `it needs ${sizeBytes} bytes, more than the whole cache budget of ${budgetBytes} bytes`,
        (retryAfterMs) =>
          new ModelTooLargeError(key, sizeBytes, budgetBytes, retryAfterMs, entry.attempts, "measured"),
      );
      void this.#beginUnload(entry, "discard");
      throw error;
    }
    this.#knownSizes.set(key, sizeBytes);

    // The estimate was low: the bytes already exist, so make room after the fact, or give this model back.
    const plan = this.#planRoom(0, entry);
    if (plan.kind === "full") {
      const error = this.#refuse(entry, sizeBytes);
      entry.waiters = 0;
      void this.#beginUnload(entry, "discard");
      throw error;
    }
    if (plan.kind === "evict") for (const victim of plan.victims) void this.#beginUnload(victim, "evict");

    entry.state = "ready";
    entry.lastUsedAt = entry.loadedAt;
    entry.attempts = 0;
    entry.failure = undefined;
    entry.failureReason = undefined;
    entry.failurePermanent = false;
    entry.retryAt = undefined;
    entry.abort = undefined;
    // Grant the joined acquires their references now, before any await lets an eviction see refs === 0.
    entry.refs += entry.waiters;
    entry.waiters = 0;
    this.#touch(entry);
    this.#emit({ type: "load", key, sizeBytes, durationMs: entry.loadedAt - started });
  }

  /** Reserves `bytes` for a loading entry, evicting (and waiting for the evictions to free memory) as needed. */
  async #admit(entry: Entry<M>, bytes: number, signal: AbortSignal): Promise<void> {
    for (;;) {
      if (signal.aborted) return;
      const plan = this.#planRoom(bytes, entry);
      if (plan.kind === "fits") {
        entry.bytes = bytes;
        return;
      }
      if (plan.kind === "full") throw this.#refuse(entry, bytes);
      for (const victim of plan.victims) void this.#beginUnload(victim, "evict");
      // Memory is only free once unload resolves; loading before that would overshoot the budget.
      const pending: Promise<void>[] = [];
      for (const other of this.#entries.values()) {
        if (other.state === "unloading" && other.unloaded !== undefined) pending.push(other.unloaded);
      }
      await Promise.all(pending);
    }
  }

  #refuse(entry: Entry<M>, neededBytes: number): CacheFullError {
    this.#counters.cacheFull++;
    this.#emit({ type: "cache-full", key: entry.key, neededBytes });
    return new CacheFullError(entry.key, neededBytes, this.#options.budgetBytes, this.#retryAfterFull());
  }

  /** When room is likely: the soonest a resident, unpinned model comes of eviction age. */
  #retryAfterFull(): number {
    const now = this.#now();
    const { minResidencyMs, retry } = this.#options;
    let soonest = retry.maxMs;
    for (const entry of this.#entries.values()) {
      if (entry.state !== "ready" || this.#pinned.has(entry.key)) continue;
      const wait =
        entry.refs > 0 ? retry.baseMs : Math.max(0, (entry.loadedAt ?? now) + minResidencyMs - now);
      soonest = Math.min(soonest, wait);
    }
    return Math.max(1, soonest);
  }

  #reservedBytes(): number {
    let total = 0;
    for (const entry of this.#entries.values()) if (entry.state !== "failed") total += entry.bytes;
    return total;
  }

  #evictable(entry: Entry<M>, now: number): boolean {
    return (
      entry.state === "ready" &&
      entry.refs === 0 &&
      !this.#pinned.has(entry.key) &&
      now - (entry.loadedAt ?? now) >= this.#options.minResidencyMs
    );
  }

  /**
   * Decides how `extra` more bytes fit: as is, by evicting LRU victims, or not at all. Unloads already under
   * way count as free-to-be. It evicts nothing when eviction cannot make enough room, so a refused load costs
   * no churn.
   */
  #planRoom(extra: number, exclude: Entry<M>): RoomPlan<M> {
    let excess = this.#reservedBytes() + extra - this.#options.budgetBytes;
    if (excess <= 0) return { kind: "fits" };
    for (const entry of this.#entries.values()) if (entry.state === "unloading") excess -= entry.bytes;
    const victims: Entry<M>[] = [];
    const now = this.#now();
    for (const entry of this.#entries.values()) {
      if (excess <= 0) break;
      if (entry === exclude || !this.#evictable(entry, now)) continue;
      victims.push(entry);
      excess -= entry.bytes;
    }
    return excess > 0 ? { kind: "full" } : { kind: "evict", victims };
  }

  #beginUnload(entry: Entry<M>, reason: UnloadReason): Promise<void> {
    if (entry.unloaded !== undefined) return entry.unloaded;
    entry.state = "unloading";
    const run = async (): Promise<void> => {
      // Runs synchronously up to here when nothing holds a lease, so no pin or acquire can slip in between
      // choosing a victim and unloading it.
      if (entry.refs > 0) {
        await new Promise<void>((resolve) => {
          entry.onDrained = resolve;
        });
      }
      if (entry.loaded) {
        try {
          await this.#options.unload(entry.key, entry.model as M);
        } catch (cause) {
          // The memory's fate is unknown; the accounting releases it anyway and recycling the worker reclaims it.
          this.#emit({ type: "unload-error", key: entry.key, reason: reasonOf(cause) });
        }
      }
      const sizeBytes = entry.bytes;
      const residentMs = this.#now() - (entry.loadedAt ?? this.#now());
      if (reason === "evict") {
        this.#counters.evictions++;
        this.#counters.evictionsSinceRecycle++;
        this.#emit({ type: "evict", key: entry.key, sizeBytes, residentMs });
      } else if (reason === "explicit") {
        this.#counters.unloads++;
        this.#emit({ type: "unload", key: entry.key, sizeBytes, residentMs });
      }
      entry.loaded = false;
      entry.model = undefined;
      entry.bytes = 0;
      entry.loadedAt = undefined;
      entry.lastUsedAt = undefined;
      // entry.unloaded stays set: waiters already hold it, and #startLoad clears it if the entry is reused.
      if (entry.failure !== undefined) entry.state = "failed";
      else if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
    };
    entry.unloaded = run();
    return entry.unloaded;
  }
}
