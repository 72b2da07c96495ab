import { availableParallelism } from "node:os";
import { type Alerts, createAlerts, createHttpTransport } from "../alerts/index.js";
import { createFsBlobStore } from "../artifacts/index.js";
import { type SkalaConfig, SkalaError, systemClock } from "../core/index.js";
import { createFleets, type Fleets } from "../fleets/index.js";
import { buildApp, type SkalaApp } from "../http/index.js";
import { JobQueue, WorkerPool } from "../jobs/index.js";
import {
  createKyselyMonitoringStore,
  createStorePredictionSink,
  MonitoringService,
  PredictionLogger,
  scheduleMonitoringRetention,
  schedulePredictionPruning,
} from "../monitoring/index.js";
import { createRegistry, DEFAULT_PROJECT, type Registry, type RegistryObserver } from "../registry/index.js";
import { ScoringService } from "../scoring/index.js";
import {
  artifactValidator,
  createInferenceService,
  createRuntimes,
  type InferenceCacheEvent,
  type InferenceService,
} from "../serving/index.js";
import { lockStore, migrateToLatest, openStore, type Store } from "../store/index.js";

export interface Services {
  store: Store;
  registry: Registry;
  jobs: JobQueue;
  fleets: Fleets;
  /** The `/v2` inference server; its runtimes start threads only on first use. */
  inference: InferenceService;
  /** Batch scoring jobs; they run on `workers`. */
  scoring: ScoringService;
  /** Predictions and ground truth ingested in batches (API, CLI). */
  monitoring: MonitoringService;
  /** The alert inbox and webhooks; deliveries run on `workers`. */
  alerts: Alerts;
  /** Present when this process runs workers (`workers.enabled`). */
  workers: WorkerPool | undefined;
  close(): Promise<void>;
}

/**
 * What start-up opened, closed in reverse order of opening: every close runs even when an earlier one fails,
 * and each failure is reported. Closing twice closes nothing more.
 */
export class OpenedResources {
  private readonly opened: Array<{ name: string; close: () => unknown }> = [];

  constructor(private readonly report: (what: string, error: unknown) => void) {}

  add(name: string, close: () => unknown): void {
    this.opened.push({ name, close });
  }

  async closeAll(): Promise<void> {
    for (const { name, close } of this.opened.splice(0).reverse()) {
      const [outcome] = await Promise.allSettled([Promise.resolve().then(close)]);
      if (outcome?.status === "rejected") this.report(`closing the ${name}`, outcome.reason);
    }
  }
}

/** Where background errors go before the server's logger exists, or when the caller gives no handler. */
function reportToStderr(what: string, error: unknown): void {
  process.stderr.write(`skala: ${what}: ${(error as Error)?.stack ?? String(error)}\n`);
}

/** The composition root: the only place that picks adapters (SQLite or PostgreSQL, file-system blobs). */
export async function openServices(
  config: SkalaConfig,
  options: {
    migrate?: boolean;
    workers?: boolean;
    observer?: RegistryObserver;
    onCacheEvent?: (event: InferenceCacheEvent) => void;
    /** Failures no caller receives (the job queue, the prediction log, idle database clients); default stderr. */
    onBackgroundError?: (what: string, error: unknown) => void;
  } = {},
): Promise<Services> {
  const report = options.onBackgroundError ?? reportToStderr;
  const opened = new OpenedResources(report);
  try {
    const store = openStore(config.resolved.databaseUrl, {
      onError: (error, context) => report(`database (${context})`, error),
    });
    opened.add("database", () => store.close());
    if (options.migrate !== false) await migrateToLatest(store);
    const blobs = createFsBlobStore(config.resolved.artifactsDir);
    const registry = createRegistry({
      store,
      blobs,
      ...(options.observer && { observer: options.observer }),
      // Registration refuses versions these runtimes could never load (they are created below, before any).
      artifactValidator: (candidate) => artifactValidator(runtimes)(candidate),
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
    const fleets = createFleets({
      store,
      registry,
      jobs,
      clock: systemClock,
      trainingThreads,
      onTrainingError: (error) => report("training thread", error),
    });
    opened.add("training threads", () => fleets.close());
    // Closed after the runtimes (in reverse): nothing records any more, and what is buffered is written
    // before the store goes.
    const predictionLog = new PredictionLogger({
      sink: createStorePredictionSink(store.db),
      sampleRate: config.inference.predictionSampleRate,
      onError: (error, context) => report(`prediction log (${context})`, error),
    });
    opened.add("prediction log", () => predictionLog.close());
    // Predictions past the retention go at start and hourly; stopped before the store closes.
    const stopPruning = schedulePredictionPruning({
      db: store.db,
      retentionDays: config.inference.predictionRetentionDays,
      onError: (error) => report("prediction log retention", error),
    });
    opened.add("prediction retention timer", stopPruning);
    // Monitoring's predictions and feedback keep the prediction log's retention (inference.predictionRetentionDays).
    const monitoringStore = createKyselyMonitoringStore(store);
    const monitoring = new MonitoringService({
      store: monitoringStore,
      retentionDays: config.inference.predictionRetentionDays,
    });
    const stopMonitoringRetention = scheduleMonitoringRetention({
      store: monitoringStore,
      retentionDays: config.inference.predictionRetentionDays,
      onError: (error) => report("monitoring retention", error),
    });
    opened.add("monitoring retention timer", stopMonitoringRetention);
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
    opened.add("model runtimes", () => runtimes.close());
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
      onBackgroundError: report,
    });
    opened.add("inference service", () => inference.close());
    const scoring = new ScoringService({ store, registry, jobs, inference });
    const alerts = createAlerts({
      store,
      jobs,
      clock: systemClock,
      transport: createHttpTransport({ allowPrivateAddresses: config.alerts.allowPrivateAddresses }),
      allowPrivateAddresses: config.alerts.allowPrivateAddresses,
      maxAttempts: config.alerts.webhookMaxAttempts,
      timeoutMs: config.alerts.webhookTimeoutMs,
    });
    let workers: WorkerPool | undefined;
    if (options.workers ?? false) {
      // One more job than training threads, so one chunk registers while the others train.
      const pool = new WorkerPool({
        queue: jobs,
        concurrency: trainingThreads + 1,
        pollMs: 250,
        leaseMs: 10_000,
        onError: (error) => report("job worker", error),
      });
      workers = pool;
      fleets.attach(pool);
      scoring.attach(pool);
      alerts.attach(pool);
      pool.start();
      opened.add("job workers", () => pool.stop({ timeoutMs: 10_000 }));
    }
    return {
      store,
      registry,
      jobs,
      fleets,
      inference,
      scoring,
      monitoring,
      alerts,
      workers,
      close: () => opened.closeAll(),
    };
  } catch (error) {
    await opened.closeAll();
    throw error;
  }
}

/** A taken or forbidden address as a catalogue error that says what to do, instead of a stack trace. */
function listenError(error: unknown, host: string, port: number): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "EADDRINUSE")
    return new SkalaError(
      "ADDRESS_IN_USE",
      `port ${port} on ${host} is in use by another process; stop it, or start Skala on another port with --port`,
      { host, port },
      { cause: error },
    );
  if (code === "EACCES" || code === "EADDRNOTAVAIL") {
    const message =
      code === "EACCES"
        ? `this user may not listen on port ${port}; choose a port above 1023 with --port`
        : `${host} is not an address of this machine; choose another with --host`;
    return new SkalaError(
      "CONFIG_INVALID",
      message,
      { issues: [{ path: code === "EACCES" ? "server.port" : "server.host", message }] },
      { cause: error },
    );
  }
  return error;
}

/**
 * Starts `skala up`: takes the SQLite database's lock (DATABASE_IN_USE when another server holds it), opens the
 * services, sweeps crash-orphaned upload files, and listens (ADDRESS_IN_USE when the port is taken). A failure at
 * any step closes what the earlier ones opened; closing the app closes everything.
 */
export async function startServer(
  config: SkalaConfig,
  /** Where log lines go (default: stdout, as JSON lines); `skala up` passes a pretty printer on a terminal. */
  logDestination?: { write(line: string): void },
): Promise<{ app: SkalaApp; url: string; services: Services }> {
  // The server's logger exists only once the app does; registry events logged before that are dropped.
  let log: ((versions: number) => void) | undefined;
  let logCacheEvent: ((event: InferenceCacheEvent) => void) | undefined;
  // The registry exists before the inference service; its deployment changes are passed on once both do.
  let deploymentChanged: RegistryObserver["deploymentChanged"];
  let logBackgroundError: (what: string, error: unknown) => void = reportToStderr;
  const report = (what: string, error: unknown) => logBackgroundError(what, error);
  const lock = lockStore(config.resolved.databaseUrl);
  const opened = new OpenedResources(report);
  opened.add("database lock", () => lock?.release());
  let app: SkalaApp | undefined;
  try {
    const services = await openServices(config, {
      workers: config.workers.enabled,
      observer: {
        registrationTransactionStarted: (versions) => log?.(versions),
        deploymentChanged: (change) => deploymentChanged?.(change),
      },
      onCacheEvent: (event) => logCacheEvent?.(event),
      onBackgroundError: report,
    });
    opened.add("services", () => services.close());
    app = await buildApp({
      store: services.store,
      registry: services.registry,
      fleets: services.fleets.service,
      inference: services.inference,
      scoring: services.scoring,
      monitoring: services.monitoring,
      alerts: services.alerts,
      bodyLimitBytes: config.server.bodyLimitBytes,
      timeouts: { headersMs: config.server.headersTimeoutMs, requestMs: config.server.requestTimeoutMs },
      bodyGuard: {
        timeoutMs: config.server.bodyTimeoutMs,
        minBytesPerSecond: config.server.bodyMinBytesPerSecond,
        inflightBytes: config.server.inflightBodyBytes,
      },
      metricsTopModels: config.inference.metricsTopModels,
      metricsModels: config.inference.metricsModels.split(",").filter((name) => name !== ""),
      logger:
        config.log.level === "silent"
          ? false
          : { level: config.log.level, ...(logDestination && { stream: logDestination }) },
    });
    // Closing the app (SIGTERM, tests, a failure below) closes everything else, in reverse order of opening.
    app.addHook("onClose", () => opened.closeAll());
    const { log: logger } = app;
    log = (versions) => logger.debug({ versions }, "registration transaction started");
    deploymentChanged = (change) => services.inference.deploymentChanged(change);
    // One line per load, failure and eviction: `bench:serve` reads load latencies from these. A version that can
    // never load is an error, logged here once with its cause (the cache retries it only when asked to), while
    // each of its requests is answered MODEL_LOAD_FAILED without another line.
    logCacheEvent = (event) => {
      if (event.type !== "fail") {
        logger.debug({ cacheEvent: event }, "model cache event");
        return;
      }
      const { cause, ...cacheEvent } = event;
      if (!event.permanent) logger.debug({ cacheEvent }, "model cache event");
      else
        logger.error(
          { cacheEvent, err: cause },
          "a model version cannot be loaded; its requests get MODEL_LOAD_FAILED until it is loaded again",
        );
    };
    logBackgroundError = (what, error) => logger.error({ err: error, what }, "background work failed");
    // A crash mid-upload leaves its temporary file behind; uploads of this process have not begun yet. A sweep
    // that fails (an unreadable directory) is logged: it must not keep the server from serving.
    await services.registry.artifacts.sweepIncomplete({ graceSeconds: config.gc.graceSeconds }).then(
      (swept) =>
        swept.files > 0 && logger.info(swept, "removed temporary files of uploads that never finished"),
      (error: unknown) => report("sweeping temporary upload files", error),
    );
    const address = await app
      .listen({ host: config.server.host, port: config.server.port })
      .catch((error: unknown) => Promise.reject(listenError(error, config.server.host, config.server.port)));
    // Pinned production deployments load while the server already answers; requests meanwhile load lazily.
    void services.inference.warmUp().then(({ pinned, failed }) => {
      if (pinned + failed > 0) logger.info({ pinned, failed }, "pinned deployments warmed up");
    });
    return { app, url: address, services };
  } catch (error) {
    await app?.close().catch((closeError: unknown) => report("closing the HTTP server", closeError));
    await opened.closeAll(); // what the app's hook did not close (all of it, when there is no app)
    throw error;
  }
}
