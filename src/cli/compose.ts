import { availableParallelism } from "node:os";
import { createFsBlobStore } from "../artifacts/index.js";
import { type SkalaConfig, systemClock } from "../core/index.js";
import { createFleets, type Fleets } from "../fleets/index.js";
import { buildApp, type SkalaApp } from "../http/index.js";
import { JobQueue, WorkerPool } from "../jobs/index.js";
import {
  createStorePredictionSink,
  PredictionLogger,
  schedulePredictionPruning,
} from "../monitoring/index.js";
import { createRegistry, DEFAULT_PROJECT, type Registry, type RegistryObserver } from "../registry/index.js";
import { ScoringService } from "../scoring/index.js";
import {
  createInferenceService,
  createRuntimes,
  type InferenceService,
  type ModelCacheEvent,
} from "../serving/index.js";
import { migrateToLatest, openStore, type Store } from "../store/index.js";

export interface Services {
  store: Store;
  registry: Registry;
  jobs: JobQueue;
  fleets: Fleets;
  /** The `/v2` inference server; its runtimes start threads only on first use. */
  inference: InferenceService;
  /** Batch scoring jobs; they run on `workers`. */
  scoring: ScoringService;
  /** Present when this process runs workers (`workers.enabled`). */
  workers: WorkerPool | undefined;
  close(): Promise<void>;
}

/** The composition root: the only place that picks adapters (SQLite or PostgreSQL, file-system blobs). */
export async function openServices(
  config: SkalaConfig,
  options: {
    migrate?: boolean;
    workers?: boolean;
    observer?: RegistryObserver;
    onCacheEvent?: (event: ModelCacheEvent) => void;
    onBackgroundError?: (what: string, error: unknown) => void;
  } = {},
): Promise<Services> {
  const store = openStore(config.resolved.databaseUrl);
  try {
    if (options.migrate !== false) await migrateToLatest(store);
    const blobs = createFsBlobStore(config.resolved.artifactsDir);
    const registry = createRegistry({
      store,
      blobs,
      ...(options.observer && { observer: options.observer }),
      clock: systemClock,
      limits: {
        bulkMaxVersions: config.registry.bulkMaxVersions,
        pageSizeMax: config.registry.pageSizeMax,
        artifactMaxBytes: config.artifacts.maxBytes,
      },
    });
    if (options.migrate !== false) await registry.projects.ensure(DEFAULT_PROJECT, "Created at first start.");
    const jobs = new JobQueue({ store, clock: systemClock });
    const trainingThreads = config.workers.trainingThreads || Math.max(1, availableParallelism());
    const fleets = createFleets({ db: store.db, registry, jobs, clock: systemClock, trainingThreads });
    const runtimes = createRuntimes({
      onnx: {
        ...(config.inference.onnxWorkers > 0 && { workers: config.inference.onnxWorkers }),
        maxQueue: config.inference.maxQueuePerWorker,
        batching: {
          maxBatchSize: config.inference.batchMaxSize,
          maxDelayMs: config.inference.batchMaxDelayMs,
        },
      },
    });
    const predictionLog = new PredictionLogger({
      sink: createStorePredictionSink(store.db),
      sampleRate: config.inference.predictionSampleRate,
      onError: (error, context) => options.onBackgroundError?.(`prediction log (${context.stage})`, error),
    });
    // Predictions past the retention go at start and hourly; stopped before the store closes.
    const stopPruning = schedulePredictionPruning({
      db: store.db,
      retentionDays: config.inference.predictionRetentionDays,
      onError: (error) => options.onBackgroundError?.("prediction log retention", error),
    });
    const inference = createInferenceService({
      predictionLog,
      registry,
      runtimes,
      project: config.inference.project,
      memoryBudgetBytes: config.inference.memoryBudgetBytes,
      minResidencyMs: config.inference.minResidencyMs,
      ping: () => store.ping(),
      environment: config.inference.environment,
      maxInflight: config.inference.maxInflight,
      recycleEveryLoads: config.inference.recycleEveryLoads,
      ...(options.onCacheEvent && { onCacheEvent: options.onCacheEvent }),
      ...(options.onBackgroundError && { onBackgroundError: options.onBackgroundError }),
    });
    const scoring = new ScoringService({ registry, jobs, inference });
    let workers: WorkerPool | undefined;
    if (options.workers ?? false) {
      // One more job than training threads, so one chunk registers while the others train.
      workers = new WorkerPool({
        queue: jobs,
        concurrency: trainingThreads + 1,
        pollMs: 250,
        leaseMs: 10_000,
      });
      fleets.attach(workers);
      scoring.attach(workers);
      workers.start();
    }
    return {
      store,
      registry,
      jobs,
      fleets,
      inference,
      scoring,
      workers,
      async close() {
        await workers?.stop({ timeoutMs: 10_000 });
        await inference.close();
        await runtimes.close();
        // After the runtimes: nothing records any more, and what is buffered is written before the store goes.
        await predictionLog.close();
        await stopPruning();
        await fleets.close();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

export async function startServer(
  config: SkalaConfig,
): Promise<{ app: SkalaApp; url: string; services: Services }> {
  // The server's logger exists only once the app does; registry events logged before that are dropped.
  let log: ((versions: number) => void) | undefined;
  let logCacheEvent: ((event: ModelCacheEvent) => void) | undefined;
  // The registry exists before the inference service; its deployment changes are passed on once both do.
  let deploymentChanged: RegistryObserver["deploymentChanged"];
  let logBackgroundError: ((what: string, error: unknown) => void) | undefined;
  const services = await openServices(config, {
    workers: config.workers.enabled,
    observer: {
      registrationTransactionStarted: (versions) => log?.(versions),
      deploymentChanged: (change) => deploymentChanged?.(change),
    },
    onCacheEvent: (event) => logCacheEvent?.(event),
    onBackgroundError: (what, error) => logBackgroundError?.(what, error),
  });
  const app = await buildApp({
    store: services.store,
    registry: services.registry,
    fleets: services.fleets.service,
    inference: services.inference,
    scoring: services.scoring,
    bodyLimitBytes: config.server.bodyLimitBytes,
    bodyGuard: {
      timeoutMs: config.server.bodyTimeoutMs,
      minBytesPerSecond: config.server.bodyMinBytesPerSecond,
      inflightBytes: config.server.inflightBodyBytes,
    },
    metricsTopModels: config.inference.metricsTopModels,
    logger: config.log.level === "silent" ? false : { level: config.log.level },
  });
  log = (versions) => app.log.debug({ versions }, "registration transaction started");
  deploymentChanged = (change) => services.inference.deploymentChanged(change);
  // One line per load, failure and eviction: `bench:serve` reads load latencies from these.
  logCacheEvent = (event) => app.log.debug({ cacheEvent: event }, "model cache event");
  logBackgroundError = (what, error) =>
    app.log.warn({ err: error, what }, "inference background work failed");
  app.addHook("onClose", async () => services.close());
  const address = await app.listen({ host: config.server.host, port: config.server.port });
  // Pinned production deployments load while the server already answers; requests meanwhile load lazily.
  void services.inference.warmUp().then(({ pinned, failed }) => {
    if (pinned + failed > 0) app.log.info({ pinned, failed }, "pinned deployments warmed up");
  });
  return { app, url: address, services };
}
