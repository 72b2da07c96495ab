import { isDigest } from "../artifacts/index.js";
import { isSkalaError, SkalaError } from "../core/index.js";
import {
  type Deployment,
  type EnvironmentName,
  parseVersionRef,
  type Registry,
  type VersionRef,
} from "../registry/index.js";
import { AdmissionGate } from "./admission.js";
import {
  type CacheClock,
  isModelCacheError,
  ModelCache,
  type ModelCacheEvent,
  type ModelCacheStats,
  ModelLoadError,
  type ModelState,
  PermanentLoadError,
  type RetryPolicy,
} from "./cache/index.js";
import type { PredictionRecord, PredictionRoute } from "./prediction-record.js";
import {
  decodeInferRequest,
  encodeInferResponse,
  encodeModelMetadata,
  encodeServerMetadata,
  type InferLimits,
  type InferResponseBody,
  type ModelMetadata,
  ProtocolError,
  type ServerMetadata,
  type Tensor,
} from "./protocol/index.js";
import { DeploymentCache, pickRoute, trafficPoint } from "./routing.js";
import {
  InvalidArtifactError,
  isRuntimeName,
  type LoadedModel,
  type RuntimeName,
  type RuntimeSet,
  runtimeUnavailable,
} from "./runtimes/index.js";
import { RecentTraffic, type TrafficSnapshot } from "./traffic.js";

/**
 * The inference server's domain: resolves `(model, version or alias)` to a registry version of one project,
 * loads it through the model cache with the runtime its `runtime` field names, and answers the Open Inference
 * Protocol's questions. Errors are SkalaErrors with catalogue codes: ProtocolErrors from the protocol and the
 * runtimes, ModelNotReadyErrors (with Retry-After) from the cache, MODEL_LOAD_FAILED for a version that can never
 * load (500, no Retry-After), and the registry's own NOT_FOUND codes.
 */

/**
 * The alias that answers when a request names no version; without it the latest `ready` version answers (a
 * flagged or failed one only when addressed or deployed).
 */
export const DEFAULT_ALIAS = "champion";

/** The version tag that turns dynamic batching off for one model (`skala.batching=off`). */
export const BATCHING_TAG = "skala.batching";

/** Extensions advertised in server metadata: only what is implemented, since clients switch features on it. */
export const INFERENCE_EXTENSIONS: readonly string[] = ["model_repository"];

export interface InferenceServiceOptions {
  registry: Registry;
  runtimes: RuntimeSet;
  /** The registry project whose models `/v2/models/{name}` addresses. */
  project: string;
  memoryBudgetBytes: number;
  /** A model is not evicted before it has been resident this long (bounds onnxruntime's churn leak). */
  minResidencyMs: number;
  serverName?: string;
  serverVersion?: string;
  /** Server readiness: resolves when the database answers. */
  ping?: () => Promise<unknown>;
  clock?: CacheClock;
  retry?: RetryPolicy;
  limits?: Partial<InferLimits>;
  onCacheEvent?: (event: InferenceCacheEvent) => void;
  /** The environment whose deployments route requests that name no version. Default "prod". */
  environment?: EnvironmentName;
  /**
   * How long a deployment read from the registry is used before it is read again. Changes made in this
   * process reach the service at once through `deploymentChanged`; this bounds how long another process
   * sharing the database keeps serving an old split. Default 10,000 ms.
   */
  deploymentTtlMs?: number;
  /** Receives every answered (and failed) prediction; it samples and writes asynchronously. */
  predictionLog?: PredictionRecorder;
  /** Replace the ONNX worker threads after this many model loads (native memory churn); 0 never. */
  recycleEveryLoads?: number;
  /** Shadow copies in flight at once; beyond it a copy is skipped (and counted), never queued. Default 64. */
  maxShadowInflight?: number;
  /**
   * Infer requests worked on at once, counted once their body has arrived; one more is refused with 503 +
   * Retry-After (bodies still arriving are bounded by the HTTP layer's body budget). Default unbounded.
   */
  maxInflight?: number;
  /** Receives failures of work done off the response path (shadow copies, warm-up, recycling). */
  onBackgroundError?: (what: string, error: unknown) => void;
}

/** The prediction log's intake: synchronous and cheap, because it is called on the response path. */
export interface PredictionRecorder {
  record(record: PredictionRecord): void;
}

export interface InferContext {
  /** Routes a request deterministically when its body has no `id` (e.g. X-Request-Id); random without both. */
  requestId?: string;
}

/**
 * Receives what `/metrics` counts as it happens: each answered (or failed) infer request of a live route
 * (shadow copies are left out) and each completed model load. Called synchronously on the response path, so
 * it must be cheap; a throwing observer is ignored.
 */
export interface InferenceObserver {
  answered?(model: string, latencySeconds: number, failed: boolean): void;
  loaded?(durationSeconds: number): void;
}

export interface InferenceStats {
  /** The busiest models of the last minute, and how many models answered since start. */
  traffic: TrafficSnapshot;
  cache: ModelCacheStats;
  /** Runs queued or running on the ONNX worker threads. */
  onnxQueueDepth: number;
  /** Infer requests admitted and not yet answered, and those refused since start. */
  inflight: number;
  refused: number;
  /** Infer requests admitted and then refused (503) because their ONNX worker's queue was full. */
  onnxQueueRefused: number;
  shadow: { sent: number; skipped: number; failed: number; inflight: number };
  recycles: number;
  /** Dynamic batching of the ONNX runtime: runs made of merged requests, and the requests in them. */
  batching: { batches: number; requests: number };
}

/** The repository extension's model states (Triton's and KServe's vocabulary). */
export type RepositoryState = "READY" | "LOADING" | "UNLOADING" | "UNAVAILABLE";

export interface RepositoryIndexEntry {
  name: string;
  /** Present for versions the cache knows; a model never requested has no chosen version yet. */
  version?: string;
  state: RepositoryState;
  reason?: string;
}

/** A model cache event with the model and version its key (a version id) stands for, when they are known. */
export type InferenceCacheEvent = ModelCacheEvent & { model?: string; version?: number };

/** `permanent`: the version failed to load and is not retried, so asking again soon is pointless. */
export type ReadyAnswer = { ready: true } | { ready: false; reason: string; permanent?: boolean };

/** What the cache needs to load a version; kept small because one is remembered per version ever served. */
interface VersionInfo {
  key: string;
  model: string;
  version: number;
  runtime: string;
  digest: string;
  size: number;
}

export interface InferenceService {
  readonly project: string;
  serverMetadata(): ServerMetadata;
  /** Whether the server can answer requests: the database answers. */
  serverReady(): Promise<ReadyAnswer>;
  modelMetadata(name: string, ref?: string): Promise<ModelMetadata>;
  /** Ready means loaded (Triton's meaning): a registered model never requested is not ready, but loadable. */
  modelReady(name: string, ref?: string): Promise<ReadyAnswer>;
  /**
   * Without a version the model's deployment in this environment picks the route (and sends a shadow copy);
   * without a deployment the `champion` alias answers, else the latest `ready` version, else a 404 that says
   * why (a flagged or failed version answers only when addressed or deployed).
   */
  infer(
    name: string,
    ref: string | undefined,
    body: unknown,
    context?: InferContext,
  ): Promise<InferResponseBody>;
  repositoryIndex(options?: { readyOnly?: boolean }): Promise<RepositoryIndexEntry[]>;
  /** Loads the version a request without a version would get; a remembered failure is retried at once. */
  load(name: string): Promise<void>;
  /** Unloads every loaded version of the model. The next request loads it again (the cache is lazy). */
  unload(name: string): Promise<void>;
  readonly cache: ModelCache<LoadedModel>;
  /** Admission control of infer requests (the HTTP layer asks it before reading a body). */
  readonly admission: AdmissionGate;
  /** Request, cache, queue and shadow figures for `/metrics`; `topModels` bounds the busiest-models list. */
  stats(topModels: number): InferenceStats;
  /** Subscribes to answered requests and model loads (the `/metrics` counters); returns the unsubscribe. */
  subscribe(observer: InferenceObserver): () => void;
  /**
   * Pins and loads the route targets of this environment's pinned deployments, so production champions are
   * resident before the first request. Failures are reported through onBackgroundError, never thrown.
   */
  warmUp(): Promise<{ pinned: number; failed: number }>;
  /** Forgets the cached deployment of a model (the registry observer calls it when one is set or deleted). */
  deploymentChanged(change: { project: string; environment: string; model: string }): void;
  close(): Promise<void>;
}

/** The largest version number a database column holds; larger numbers cannot name a version. */
const MAX_VERSION_NUMBER = 2 ** 31 - 1;

/** Estimated bytes before a load, per runtime: the same factors the runtimes measure with (see their README). */
const SIZE_FACTOR: Readonly<Record<RuntimeName, number>> = { onnx: 1.25, "skala.forecast": 3 };

/**
 * A model that cannot answer now (load failed and backing off, no room in the cache): MODEL_NOT_READY with the
 * reason, and `retryAfterMs` for the Retry-After header.
 */
export class ModelNotReadyError extends ProtocolError {
  declare readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number, options?: { cause?: unknown }) {
    super("MODEL_NOT_READY", message, { ...options, retryAfterMs });
    this.name = "ModelNotReadyError";
  }
}

/** Answers that say "not now" rather than anything about the model's predictions. */
const NOT_READY_CODES: ReadonlySet<string> = new Set([
  "MODEL_NOT_READY",
  "OVERLOADED",
  "SERVICE_UNAVAILABLE",
]);

/** Answers that say nothing of the model's predictions: it was not ready, or can never load. */
function isNotReady(error: unknown): boolean {
  return isSkalaError(error) && (NOT_READY_CODES.has(error.code) || error.code === "MODEL_LOAD_FAILED");
}

function stateOf(state: ModelState): RepositoryState {
  switch (state) {
    case "ready":
      return "READY";
    case "loading":
      return "LOADING";
    case "unloading":
      return "UNLOADING";
    case "failed":
      return "UNAVAILABLE";
    default: {
      const unhandled: never = state;
      return unhandled;
    }
  }
}

/**
 * @example
 * const inference = createInferenceService({ registry, runtimes: createRuntimes(), project: "default",
 *   memoryBudgetBytes: 1 << 30, minResidencyMs: 10_000, ping: () => store.ping() });
 * const answer = await inference.infer("part-A12", "champion", { inputs: [...] });
 */
export function createInferenceService(options: InferenceServiceOptions): InferenceService {
  const { registry, runtimes, project } = options;
  /**
   * Every version ever resolved, by cache key (the version id). The cache's loader only gets the key, and
   * the repository index names keys by model and version. Never pruned: a version's facts do not change, and
   * at ~200 bytes an entry, even 100,000 served versions cost little.
   */
  const known = new Map<string, VersionInfo>();
  const environment = options.environment ?? "prod";
  const clock = options.clock ?? { now: () => performance.now() };
  const traffic = new RecentTraffic(() => clock.now());
  const observers = new Set<InferenceObserver>();
  /** Observers feed metrics: one that throws must not fail a request or a load. */
  const notify = (call: (observer: InferenceObserver) => void): void => {
    for (const observer of observers) {
      try {
        call(observer);
      } catch {
        // Ignored, as the cache ignores a throwing event listener.
      }
    }
  };
  const admission = new AdmissionGate(options.maxInflight);
  const deployments = new DeploymentCache(
    (model) => registry.deployments.find(project, environment, model),
    options.deploymentTtlMs ?? 10_000,
  );
  /** Which key each pinned deployment target resolved to last, by `model \0 target`. */
  const pinnedTargets = new Map<string, string>();
  const shadow = { sent: 0, skipped: 0, failed: 0, inflight: 0 };
  const maxShadowInflight = options.maxShadowInflight ?? 64;
  let recycles = 0;
  const reportBackground = (what: string, error: unknown): void => {
    try {
      options.onBackgroundError?.(what, error);
    } catch {
      // A failing reporter must not turn background work into an unhandled rejection.
    }
  };

  // Loads create native sessions whose memory onnxruntime does not fully return when they are released:
  // after `recycleEveryLoads` loads the worker threads are replaced and their sessions reload lazily.
  const onCacheEvent = (event: ModelCacheEvent): void => {
    if (event.type === "load") notify((observer) => observer.loaded?.(event.durationMs / 1000));
    const info = known.get(event.key);
    options.onCacheEvent?.(
      info === undefined ? event : { ...event, model: info.model, version: info.version },
    );
    const every = options.recycleEveryLoads ?? 0;
    if (event.type === "load" && cache.shouldRecycle(every)) {
      cache.markRecycled();
      recycles++;
      runtimes.onnx.recycle().catch((error: unknown) => reportBackground("worker recycle", error));
    }
  };

  const cache = new ModelCache<LoadedModel>({
    budgetBytes: options.memoryBudgetBytes,
    minResidencyMs: options.minResidencyMs,
    clock,
    retry: options.retry ?? { baseMs: 1_000, maxMs: 60_000 },
    estimateBytes: (key) => {
      const info = known.get(key);
      if (info === undefined || !isRuntimeName(info.runtime)) return undefined;
      return Math.ceil(info.size * SIZE_FACTOR[info.runtime]);
    },
    onEvent: onCacheEvent,
    async load(key, signal) {
      const info = known.get(key);
      if (info === undefined) throw new Error(`version ${key} was never resolved`);
      // Registration refuses these when it has a validator; a version registered by a registry-only process
      // (or before validation existed) can still name a runtime this server lacks or carry a corrupt artifact.
      // Either is permanent here: the cache stops retrying, and requests get MODEL_LOAD_FAILED, not 503.
      if (!isRuntimeName(info.runtime)) throw new PermanentLoadError(runtimeUnavailable(info.runtime));
      if (!isDigest(info.digest)) throw new PermanentLoadError(`the version's artifact digest is invalid`);
      const bytes = await registry.artifacts.read(info.digest);
      signal.throwIfAborted();
      try {
        const model = await runtimes.get(info.runtime).load(bytes, {
          key: `${project}/${info.model}:${info.version}`,
          signal,
          ...(info.runtime === "onnx" && !(await batchable(info)) && { batching: false }),
        });
        return { model, sizeBytes: model.sizeBytes };
      } catch (error) {
        if (error instanceof InvalidArtifactError)
          throw new PermanentLoadError(error.message, { cause: error });
        throw error;
      }
    },
    unload: (_key, model) => model.unload(),
  });

  /**
   * Dynamic batching assumes a model's rows are independent; a version tagged `skala.batching=off` (or
   * `false`) says its rows are not, and its requests always run alone. Read once per load, not per request.
   */
  async function batchable(info: VersionInfo): Promise<boolean> {
    const version = await registry.versions.get(project, info.model, info.version);
    const tag = version.tags[BATCHING_TAG]?.toLowerCase();
    return tag !== "off" && tag !== "false";
  }

  async function lookup(name: string, ref: VersionRef | undefined) {
    if (ref !== undefined) return await registry.versions.get(project, name, ref);
    try {
      if (ref !== undefined) return await registry.versions.get(project, name, ref);
      return await registry.versions.defaultVersion(project, name, DEFAULT_ALIAS);
    } catch (error) {
      if (isSkalaError(error) && error.code === "ALIAS_NOT_FOUND") {
        return await registry.versions.latest(project, name);
      }
      throw error;
    }
  }

  /** Aliases are resolved on every request, so moving `champion` takes effect at once. */
  async function resolve(name: string, ref: string | undefined): Promise<VersionInfo> {
    let parsed: VersionRef | undefined;
    if (ref !== undefined) {
      parsed = parseVersionRef(ref);
      if (typeof parsed === "number" && !(parsed >= 1 && parsed <= MAX_VERSION_NUMBER)) {
        throw new SkalaError("VERSION_NOT_FOUND", `model "${name}" has no version ${ref}`);
      }
    }
    let located = await registry.versions.locate(project, name, parsed, DEFAULT_ALIAS);
    // The fast path found nothing: the full lookup says what is missing (model, version, alias) as a 404.
    if (located === undefined) {
      const version = await lookup(name, parsed);
      located = {
        id: version.id,
        model: version.model,
        version: version.version,
        runtime: version.runtime,
        digest: version.artifact.digest,
        size: version.artifact.size,
        status: version.status,
      };
    }
    let info = known.get(located.id);
    if (info === undefined) {
      info = {
        key: located.id,
        model: located.model,
        version: located.version,
        runtime: located.runtime,
        digest: located.digest,
        size: located.size,
      };
      known.set(info.key, info);
    }
    return info;
  }

  /**
   * The model's deployment, kept for `deploymentTtlMs`. Its pins are dropped when it stops being pinned or
   * goes away, so an undeployed version becomes evictable again.
   */
  async function deploymentOf(name: string): Promise<Deployment | undefined> {
    const deployment = await deployments.get(name);
    const targets = deployment?.pinned === true ? deployment.routes.filter((r) => r.weight > 0) : [];
    unpinModel(name, new Set(targets.map((r) => r.target)));
    return deployment;
  }

  /** Pins the version a pinned deployment's target resolves to now, and unpins what it resolved to before. */
  function pinTarget(info: VersionInfo, target: string): void {
    const slot = `${info.model}\u0000${target}`;
    const before = pinnedTargets.get(slot);
    if (before === info.key) return;
    pinnedTargets.set(slot, info.key);
    cache.pin(info.key);
    if (before !== undefined && ![...pinnedTargets.values()].includes(before)) cache.unpin(before);
  }

  /** Unpins the model's targets other than `keep`: those its deployment no longer routes to. */
  function unpinModel(name: string, keep: ReadonlySet<string>): void {
    const prefix = `${name}\u0000`;
    for (const [slot, key] of pinnedTargets) {
      if (!slot.startsWith(prefix) || keep.has(slot.slice(prefix.length))) continue;
      pinnedTargets.delete(slot);
      if (![...pinnedTargets.values()].includes(key)) cache.unpin(key);
    }
  }

  function observe(
    info: VersionInfo,
    route: PredictionRoute,
    requestId: string | undefined,
    inputs: Tensor[],
    started: number,
    result: { outputs?: Tensor[]; error?: unknown },
  ): void {
    const latencyMs = performance.now() - started;
    const failed = result.error !== undefined;
    if (route !== "shadow") {
      traffic.observe(info.model, failed);
      notify((observer) => observer.answered?.(info.model, latencyMs / 1000, failed));
    }
    // Not-ready answers (503) say nothing about the model's predictions; they stay out of the log.
    if (options.predictionLog === undefined || (failed && isNotReady(result.error))) return;
    options.predictionLog.record({
      project,
      model: info.model,
      version: info.version,
      versionId: info.key,
      route,
      ...(requestId !== undefined && { requestId }),
      inputs,
      ...(result.outputs !== undefined && { outputs: result.outputs }),
      ...(failed && { error: result.error instanceof Error ? result.error.message : String(result.error) }),
      latencyMs,
      at: new Date(),
    });
  }

  /**
   * Sends a copy of the request to the shadow target off the response path. Its answer goes to the
   * prediction log only; failures are counted, never returned; beyond maxShadowInflight copies are skipped
   * rather than queued, so a slow shadow cannot build up memory or slow the live route.
   */
  function sendShadow(
    name: string,
    target: string,
    inputs: Tensor[],
    outputNames: string[] | undefined,
    requestId: string | undefined,
  ): void {
    if (shadow.inflight >= maxShadowInflight) {
      shadow.skipped++;
      return;
    }
    shadow.inflight++;
    shadow.sent++;
    const started = performance.now();
    void (async () => {
      let info: VersionInfo | undefined;
      try {
        info = await resolve(name, target);
        const resolved = info;
        const outputs = await withModel(resolved, (model) =>
          model.infer(inputs, { ...(outputNames !== undefined && { outputs: outputNames }) }),
        );
        observe(resolved, "shadow", requestId, inputs, started, { outputs });
      } catch (error) {
        shadow.failed++;
        if (info !== undefined) observe(info, "shadow", requestId, inputs, started, { error });
        reportBackground(`shadow ${name}@${target}`, error);
      } finally {
        shadow.inflight--;
      }
    })();
  }

  function describeState(info: VersionInfo): ReadyAnswer {
    const row = cache.states().find((s) => s.key === info.key);
    const what = `model "${info.model}" version ${info.version}`;
    if (row === undefined) {
      return {
        ready: false,
        reason: `${what} is not loaded; it loads on the first infer request or on POST /v2/repository/models/${info.model}/load`,
      };
    }
    switch (row.state) {
      case "ready":
        return { ready: true };
      case "loading":
        return { ready: false, reason: `${what} is loading` };
      case "unloading":
        return { ready: false, reason: `${what} is unloading` };
      case "failed":
        return row.permanent === true
          ? {
              ready: false,
              reason: `${what} failed to load and is not retried: ${row.error}`,
              permanent: true,
            }
          : { ready: false, reason: `${what} failed to load: ${row.error ?? "unknown reason"}` };
      default: {
        const unhandled: never = row.state;
        return unhandled;
      }
    }
  }

  /** Runs `fn` on the loaded model, naming the model (not its cache key) when it cannot be had. */
  async function withModel<T>(info: VersionInfo, fn: (model: LoadedModel) => Promise<T> | T): Promise<T> {
    try {
      return await cache.use(info.key, fn);
    } catch (error) {
      throw notReady(info, error);
    }
  }

  function notReady(info: VersionInfo, error: unknown): unknown {
    if (!isModelCacheError(error)) return error;
    const label = `model "${info.model}" version ${info.version}`;
    if (error instanceof ModelLoadError && error.permanent) {
      return new SkalaError(
        "MODEL_LOAD_FAILED",
        `${label} cannot be served: it failed to load and retrying will not help: ${error.reason}`,
        { model: info.model, version: info.version },
        { cause: error },
      );
    }
    const message =
      error instanceof ModelLoadError
        ? `${label} is not ready: it failed to load: ${error.reason}`
        : `${label} is not ready: ${error.message.replace(JSON.stringify(info.key), `"${info.model}:${info.version}"`)}`;
    return new ModelNotReadyError(message, error.retryAfterMs, { cause: error });
  }

  async function listModelNames(): Promise<string[]> {
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await registry.models.list(project, {
        limit: 1_000,
        ...(cursor !== undefined && { cursor }),
      });
      for (const model of page.items) names.push(model.name);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return names;
  }

  return {
    project,
    cache,
    admission,

    serverMetadata() {
      return encodeServerMetadata({
        name: options.serverName ?? "skala",
        version: options.serverVersion ?? "0.1.0",
        extensions: INFERENCE_EXTENSIONS,
      });
    },

    async serverReady() {
      if (options.ping === undefined) return { ready: true };
      try {
        await options.ping();
        return { ready: true };
      } catch (error) {
        return { ready: false, reason: `database unreachable: ${(error as Error).message}` };
      }
    },

    async modelMetadata(name, ref) {
      const info = await resolve(name, ref);
      const metadata = await withModel(info, (model) => model.metadata());
      return encodeModelMetadata({
        name,
        versions: [String(info.version)],
        platform: metadata.platform,
        inputs: metadata.inputs,
        outputs: metadata.outputs,
      });
    },

    async modelReady(name, ref) {
      return describeState(await resolve(name, ref));
    },

    async infer(name, ref, body, context = {}) {
      // The body is checked before anything is loaded, so a malformed request never costs a model load.
      const request = decodeInferRequest(body, options.limits);
      const started = performance.now();
      const requestId = request.id ?? context.requestId;
      const outputNames = request.outputs?.map((o) => o.name);
      let route: PredictionRoute = "direct";
      let deployment: Deployment | undefined;
      let info: VersionInfo;
      if (ref === undefined) {
        deployment = await deploymentOf(name);
        const chosen = deployment && pickRoute(deployment.routes, trafficPoint(name, requestId));
        if (deployment !== undefined && chosen !== undefined) {
          route = chosen.target;
          info = await resolve(name, chosen.target);
          if (deployment.pinned) pinTarget(info, chosen.target);
        } else {
          route = "default";
          info = await resolve(name, undefined);
        }
      } else {
        info = await resolve(name, ref);
      }
      if (deployment?.shadow != null)
        sendShadow(name, deployment.shadow, request.inputs, outputNames, requestId);
      let outputs: Tensor[];
      try {
        outputs = await withModel(info, (model) =>
          // The runtime checks inputs against the model's own metadata (onnx: checkInputsAgainstModel; the
          // forecast runtime's history input is optional, which the metadata cannot say).
          model.infer(request.inputs, { ...(outputNames !== undefined && { outputs: outputNames }) }),
        );
      } catch (error) {
        observe(info, route, requestId, request.inputs, started, { error });
        throw error;
      }
      observe(info, route, requestId, request.inputs, started, { outputs });
      return encodeInferResponse({
        modelName: name,
        modelVersion: String(info.version),
        ...(request.id !== undefined && { id: request.id }),
        outputs,
      });
    },

    stats(topModels) {
      const onnxQueueDepth = runtimes.onnx.stats().reduce((sum, worker) => sum + worker.inFlight, 0);
      return {
        traffic: traffic.snapshot(topModels),
        cache: cache.stats(),
        onnxQueueDepth,
        inflight: admission.inflight,
        refused: admission.refused,
        onnxQueueRefused: runtimes.onnx.queueRefusals(),
        shadow: { ...shadow },
        recycles,
        batching: (({ batches, requests }) => ({ batches, requests }))(runtimes.onnx.batchStats()),
      };
    },

    subscribe(observer) {
      observers.add(observer);
      return () => {
        observers.delete(observer);
      };
    },

    deploymentChanged(change) {
      if (change.project === project && change.environment === environment)
        deployments.invalidate(change.model);
    },

    async warmUp() {
      let pinned = 0;
      let failed = 0;
      let list: Deployment[];
      try {
        list = await registry.deployments.list(project, environment);
      } catch (error) {
        reportBackground("warm-up", error);
        return { pinned, failed };
      }
      const keys: string[] = [];
      for (const deployment of list) {
        if (!deployment.pinned) continue;
        for (const route of deployment.routes) {
          if (route.weight <= 0) continue;
          try {
            const info = await resolve(deployment.model, route.target);
            pinTarget(info, route.target);
            keys.push(info.key);
            pinned++;
          } catch (error) {
            failed++;
            reportBackground(`warm-up of ${deployment.model}@${route.target}`, error);
          }
        }
      }
      for (const result of await cache.preload(keys)) {
        if (result.error !== undefined) {
          failed++;
          reportBackground(`warm-up load of ${result.key}`, result.error);
        }
      }
      return { pinned, failed };
    },

    async repositoryIndex({ readyOnly = false } = {}) {
      const names = await listModelNames();
      const rows: RepositoryIndexEntry[] = [];
      const cached = new Set<string>();
      for (const state of cache.states()) {
        const info = known.get(state.key);
        if (info === undefined) continue;
        cached.add(info.model);
        const row: RepositoryIndexEntry = {
          name: info.model,
          version: String(info.version),
          state: stateOf(state.state),
        };
        if (state.state === "failed" && state.error !== undefined) row.reason = state.error;
        rows.push(row);
      }
      for (const name of names) {
        if (!cached.has(name)) rows.push({ name, state: "UNAVAILABLE", reason: "unloaded" });
      }
      rows.sort((a, b) =>
        a.name === b.name ? Number(a.version ?? 0) - Number(b.version ?? 0) : a.name < b.name ? -1 : 1,
      );
      return readyOnly ? rows.filter((r) => r.state === "READY") : rows;
    },

    async load(name) {
      const info = await resolve(name, undefined);
      try {
        await cache.loadModel(info.key);
      } catch (error) {
        throw notReady(info, error);
      }
    },

    async unload(name) {
      await registry.models.get(project, name);
      const keys = cache
        .states()
        .map((s) => known.get(s.key))
        .filter((info): info is VersionInfo => info?.model === name)
        .map((info) => info.key);
      await Promise.all(keys.map((key) => cache.unloadModel(key)));
    },

    async close() {
      await cache.unloadAll();
    },
  };
}
