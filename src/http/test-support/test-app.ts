import { type Alerts, createAlerts, createHttpTransport } from "../../alerts/index.js";
import { createMemoryBlobStore } from "../../artifacts/index.js";
import { AutopilotService } from "../../autopilot/index.js";
import { testCompare } from "../../autopilot/test-support/compare.js";
import { MemoryEvidence } from "../../autopilot/test-support/evidence.js";
import { queueRetrain } from "../../autopilot/test-support/retrain.js";
import { systemClock } from "../../core/index.js";
import { createFleets } from "../../fleets/index.js";
import { JobQueue } from "../../jobs/index.js";
import { createKyselyMonitoringStore, MonitoringService } from "../../monitoring/index.js";
import { createRegistry, DEFAULT_PROJECT, type Registry } from "../../registry/index.js";
import { ScoringService } from "../../scoring/index.js";
import {
  artifactValidator,
  createInferenceService,
  createRuntimes,
  type InferenceService,
  type InferenceServiceOptions,
  type OnnxRuntimeOptions,
  type RuntimeSet,
} from "../../serving/index.js";
import type { DialectName, Store } from "../../store/index.js";
import { freshStore } from "../../store/test-support/dialects.js";
import { type AppDependencies, buildApp, type SkalaApp } from "../app.js";

/** A complete app over a fresh store and an in-memory blob store, for `app.inject()` tests. */
export async function testApp(
  options: {
    dialect?: DialectName;
    bodyLimitBytes?: number;
    /** Body deadline, rate and budget; the settings' defaults otherwise. */
    bodyGuard?: AppDependencies["bodyGuard"];
    /** Headers and whole-request timeouts; the settings' defaults otherwise. */
    timeouts?: AppDependencies["timeouts"];
    bulkMaxVersions?: number;
    /** Serve `/v2` (one ONNX worker thread); the options override the service's defaults. */
    inference?: boolean | Partial<Omit<InferenceServiceOptions, "registry" | "runtimes">>;
    /** ONNX runtime options beyond the single worker thread (queue bound, batching). */
    onnx?: OnnxRuntimeOptions;
    metricsTopModels?: number;
    /** Models with their own lifetime series in `/metrics` (`inference.metricsModels`). */
    metricsModels?: string[];
    /**
     * Refuse versions the runtimes could never load, as the server does. Default true; false registers any
     * artifact, as a registry-only process does (how a broken version reaches a server).
     */
    artifactValidation?: boolean;
    /** Makes the batch scoring service (to give it workers); default: one whose jobs nothing runs. */
    scoring?: (deps: { registry: Registry; store: Store; inference: InferenceService }) => ScoringService;
    /** Makes the alerts capability (to give it workers or a fast retry schedule); default: one nothing delivers. */
    alerts?: (deps: { store: Store }) => Alerts;
  } = {},
): Promise<{
  app: SkalaApp;
  registry: Registry;
  inference: InferenceService | undefined;
  runtimes: RuntimeSet;
  /** What the autopilot is told about models (monitoring's stand-in); tests set it. */
  autopilotEvidence: MemoryEvidence;
  alerts: Alerts;
  store: Store;
  close(): Promise<void>;
}> {
  const fresh = await freshStore(options.dialect ?? "sqlite");
  // One ONNX worker thread, started on first use: it serves /v2 when asked for, and checks registrations.
  const runtimes = createRuntimes({ onnx: { workers: 1, ...options.onnx } });
  // As in the server: deployment changes reach the inference service at once.
  let inferenceService: InferenceService | undefined;
  const registry = createRegistry({
    store: fresh.store,
    observer: { deploymentChanged: (change) => inferenceService?.deploymentChanged(change) },
    ...(options.artifactValidation !== false && { artifactValidator: artifactValidator(runtimes) }),
    blobs: createMemoryBlobStore(),
    clock: systemClock,
    limits: {
      bulkMaxVersions: options.bulkMaxVersions ?? 10_000,
      pageSizeMax: 1_000,
      artifactMaxBytes: 1 << 20,
    },
  });
  await registry.projects.ensure(DEFAULT_PROJECT);
  // Fleets without workers: submissions queue jobs that nothing runs, which is all the HTTP tests need.
  const fleets = createFleets({
    store: fresh.store,
    registry,
    jobs: new JobQueue({ store: fresh.store, clock: systemClock }),
    clock: systemClock,
    trainingThreads: 1,
  });
  // One inference service: it serves `/v2` when asked for, and batch scoring on every test app (so its routes
  // are in the OpenAPI document and fuzzed); it loads nothing unless something is inferred or scored.
  const service = createInferenceService({
    registry,
    runtimes,
    project: DEFAULT_PROJECT,
    memoryBudgetBytes: 1 << 30,
    minResidencyMs: 0,
    ping: () => fresh.store.ping(),
    ...(typeof options.inference === "object" && options.inference),
  });
  const inference = options.inference ? service : undefined;
  const scoringDeps = { registry, store: fresh.store, inference: service };
  const scoring = options.scoring
    ? options.scoring(scoringDeps)
    : new ScoringService({ ...scoringDeps, jobs: new JobQueue({ store: fresh.store, clock: systemClock }) });
  inferenceService = service;
  // The autopilot with its test ports (the composition root wires the real ones), so its routes are in the
  // OpenAPI document and fuzzed.
  const autopilotEvidence = new MemoryEvidence();
  const autopilot = new AutopilotService({
    store: fresh.store,
    registry,
    retrain: queueRetrain(new JobQueue({ store: fresh.store, clock: systemClock })),
    compare: testCompare,
    evidence: autopilotEvidence,
    clock: systemClock,
  });
  const alerts = options.alerts
    ? options.alerts({ store: fresh.store })
    : createAlerts({
        store: fresh.store,
        jobs: new JobQueue({ store: fresh.store, clock: systemClock }),
        transport: createHttpTransport({ allowPrivateAddresses: true }),
        allowPrivateAddresses: true,
      });
  const app = await buildApp({
    autopilot,
    alerts,
    store: fresh.store,
    registry,
    fleets: fleets.service,
    scoring,
    // Prediction and feedback ingestion on every test app, so its routes are in the OpenAPI document.
    monitoring: new MonitoringService({ store: createKyselyMonitoringStore(fresh.store) }),
    ...(inference !== undefined && { inference }),
    bodyLimitBytes: options.bodyLimitBytes ?? 8 << 20,
    ...(options.bodyGuard !== undefined && { bodyGuard: options.bodyGuard }),
    ...(options.timeouts !== undefined && { timeouts: options.timeouts }),
    ...(options.metricsTopModels !== undefined && { metricsTopModels: options.metricsTopModels }),
    ...(options.metricsModels !== undefined && { metricsModels: options.metricsModels }),
  });
  return {
    app,
    registry,
    inference,
    runtimes,
    autopilotEvidence,
    alerts,
    store: fresh.store,
    async close() {
      await app.close();
      await service.close();
      await runtimes.close();
      await fleets.close();
      await fresh.dispose();
    },
  };
}
