import { isDigest } from "../artifacts/index.js";
import { isSkalaError } from "../core/index.js";
import { parseVersionRef, type Registry, type VersionRef } from "../registry/index.js";
import {
  type CacheClock,
  isModelCacheError,
  ModelCache,
  type ModelCacheEvent,
  ModelLoadError,
  type ModelState,
  type RetryPolicy,
} from "./cache/index.js";
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
} from "./protocol/index.js";
import { type LoadedModel, RUNTIME_NAMES, type RuntimeName, type RuntimeSet } from "./runtimes/index.js";

/**
 * The inference server's domain: resolves `(model, version or alias)` to a registry version of one project,
 * loads it through the model cache with the runtime its `runtime` field names, and answers the Open Inference
 * Protocol's questions. Errors are ProtocolErrors (status chosen by the protocol) or ModelCacheErrors (503 with
 * Retry-After); the routes map nothing else.
 */

/** The alias that answers when a request names no version; without it the latest version answers. */
export const DEFAULT_ALIAS = "champion";

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
  onCacheEvent?: (event: ModelCacheEvent) => void;
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

export type ReadyAnswer = { ready: true } | { ready: false; reason: string };

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
  infer(name: string, ref: string | undefined, body: unknown): Promise<InferResponseBody>;
  repositoryIndex(options?: { readyOnly?: boolean }): Promise<RepositoryIndexEntry[]>;
  /** Loads the version a request without a version would get; a remembered failure is retried at once. */
  load(name: string): Promise<void>;
  /** Unloads every loaded version of the model. The next request loads it again (the cache is lazy). */
  unload(name: string): Promise<void>;
  readonly cache: ModelCache<LoadedModel>;
  close(): Promise<void>;
}

/** The largest version number a database column holds; larger numbers cannot name a version. */
const MAX_VERSION_NUMBER = 2 ** 31 - 1;

/** Estimated bytes before a load, per runtime: the same factors the runtimes measure with (see their README). */
const SIZE_FACTOR: Readonly<Record<RuntimeName, number>> = { onnx: 1.25, "skala.forecast": 3 };

function isRuntimeName(name: string): name is RuntimeName {
  return (RUNTIME_NAMES as readonly string[]).includes(name);
}

/**
 * A model that cannot answer now (load failed and backing off, no room in the cache): 503 with the reason, and
 * `retryAfterMs` for the Retry-After header.
 */
export class ModelNotReadyError extends ProtocolError {
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number, options?: { cause?: unknown }) {
    super(503, message, options);
    this.name = "ModelNotReadyError";
    this.retryAfterMs = retryAfterMs;
  }
}

function notFound(message: string): ProtocolError {
  return new ProtocolError(404, message);
}

/** Registry lookups fail with SkalaErrors; the protocol answers a missing model, version or alias with 404. */
function fromRegistryError(error: unknown): unknown {
  if (isSkalaError(error)) {
    switch (error.code) {
      case "PROJECT_NOT_FOUND":
      case "MODEL_NOT_FOUND":
      case "VERSION_NOT_FOUND":
      case "ALIAS_NOT_FOUND":
        return notFound(error.message);
      default:
        return error;
    }
  }
  return error;
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

  const cache = new ModelCache<LoadedModel>({
    budgetBytes: options.memoryBudgetBytes,
    minResidencyMs: options.minResidencyMs,
    clock: options.clock ?? { now: () => performance.now() },
    retry: options.retry ?? { baseMs: 1_000, maxMs: 60_000 },
    estimateBytes: (key) => {
      const info = known.get(key);
      if (info === undefined || !isRuntimeName(info.runtime)) return undefined;
      return Math.ceil(info.size * SIZE_FACTOR[info.runtime]);
    },
    ...(options.onCacheEvent !== undefined && { onEvent: options.onCacheEvent }),
    async load(key, signal) {
      const info = known.get(key);
      if (info === undefined) throw new Error(`version ${key} was never resolved`);
      // A version registered for a runtime this server lacks is "not ready" (503 with this reason), not the
      // client's mistake: another build or role of the server may serve it.
      if (!isRuntimeName(info.runtime)) {
        throw new Error(
          `runtime "${info.runtime}" is not available on this server (it has ${RUNTIME_NAMES.join(", ")})`,
        );
      }
      if (!isDigest(info.digest)) throw new Error(`the version's artifact digest is invalid`);
      const bytes = await registry.artifacts.read(info.digest);
      signal.throwIfAborted();
      const model = await runtimes
        .get(info.runtime)
        .load(bytes, { key: `${project}/${info.model}:${info.version}`, signal });
      return { model, sizeBytes: model.sizeBytes };
    },
    unload: (_key, model) => model.unload(),
  });

  async function lookup(name: string, ref: VersionRef | undefined) {
    try {
      if (ref !== undefined) return await registry.versions.get(project, name, ref);
      try {
        return await registry.versions.get(project, name, DEFAULT_ALIAS);
      } catch (error) {
        if (isSkalaError(error) && error.code === "ALIAS_NOT_FOUND") {
          return await registry.versions.latest(project, name);
        }
        throw error;
      }
    } catch (error) {
      throw fromRegistryError(error);
    }
  }

  /** Aliases are resolved on every request, so moving `champion` takes effect at once. */
  async function resolve(name: string, ref: string | undefined): Promise<VersionInfo> {
    let parsed: VersionRef | undefined;
    if (ref !== undefined) {
      parsed = parseVersionRef(ref);
      if (typeof parsed === "number" && !(parsed >= 1 && parsed <= MAX_VERSION_NUMBER)) {
        throw notFound(`model "${name}" has no version ${ref}`);
      }
    }
    const version = await lookup(name, parsed);
    let info = known.get(version.id);
    if (info === undefined) {
      info = {
        key: version.id,
        model: version.model,
        version: version.version,
        runtime: version.runtime,
        digest: version.artifact.digest,
        size: version.artifact.size,
      };
      known.set(info.key, info);
    }
    return info;
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
        return { ready: false, reason: `${what} failed to load: ${row.error ?? "unknown reason"}` };
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

    async infer(name, ref, body) {
      // The body is checked before anything is loaded, so a malformed request never costs a model load.
      const request = decodeInferRequest(body, options.limits);
      const info = await resolve(name, ref);
      const outputs = await withModel(info, (model) =>
        // The runtime checks inputs against the model's own metadata (onnx: checkInputsAgainstModel; the
        // forecast runtime's history input is optional, which the metadata cannot say).
        model.infer(request.inputs, {
          ...(request.outputs !== undefined && { outputs: request.outputs.map((o) => o.name) }),
        }),
      );
      return encodeInferResponse({
        modelName: name,
        modelVersion: String(info.version),
        ...(request.id !== undefined && { id: request.id }),
        outputs,
      });
    },

    async repositoryIndex({ readyOnly = false } = {}) {
      let names: string[];
      try {
        names = await listModelNames();
      } catch (error) {
        throw fromRegistryError(error);
      }
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
      try {
        await registry.models.get(project, name);
      } catch (error) {
        throw fromRegistryError(error);
      }
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
