import type { FastifyInstance } from "fastify";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry, Summary } from "prom-client";
import type { MonitoringService } from "../monitoring/index.js";
import {
  type InferenceService,
  type InferenceStats,
  LATENCY_BUCKETS_SECONDS,
  RECENT_WINDOW_SECONDS,
} from "../serving/index.js";

/** The `model` label of every model that `inference.metricsModels` does not name. */
export const OTHER_MODELS = "__other__";

export interface MetricsOptions {
  /** The inference server whose figures `/metrics` adds; left out by processes that serve no models. */
  inference?: Pick<InferenceService, "stats" | "subscribe">;
  /** Monitoring's ingestion, counted by kind and outcome. */
  monitoring?: Pick<MonitoringService, "subscribe">;
  /** Models counted under their own name (`inference.metricsModels`); the rest count as `__other__`. */
  models?: readonly string[];
  /** How many of the busiest models the recent-traffic gauges list (`inference.metricsTopModels`). Default 20. */
  topModels?: number;
}

/**
 * Prometheus metrics for one app instance, all from one prom-client registry. HTTP durations are labelled by
 * route template (`/api/v1/projects/:project/models/:model`), never by raw URL; per-model series exist for a
 * fixed set of models plus the few busiest now, so the output is bounded however many models are served.
 */
export function installMetrics(app: FastifyInstance, options: MetricsOptions = {}): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "skala_" });
  const duration = new Histogram({
    name: "skala_http_request_duration_seconds",
    help: "HTTP request duration by method, route template and status code.",
    labelNames: ["method", "route", "status_code"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  app.addHook("onResponse", async (request, reply) => {
    duration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? "unmatched",
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });
  if (options.inference !== undefined) {
    const unsubscribe = registerInferenceMetrics(registry, options.inference, {
      models: options.models ?? [],
      topModels: options.topModels ?? 20,
    });
    app.addHook("onClose", async () => unsubscribe());
  }
  if (options.monitoring !== undefined) {
    // Labels: kind (predictions, feedback) × outcome (accepted, or a rejection reason): a fixed, small set.
    const rows = new Counter({
      name: "skala_monitor_ingest_rows_total",
      help: "Prediction and feedback rows ingested (outcome accepted) and problems of refused batches, by reason.",
      labelNames: ["kind", "outcome"] as const,
      registers: [registry],
    });
    const batches = new Counter({
      name: "skala_monitor_ingest_batches_total",
      help: "Prediction and feedback batches ingested, by kind and outcome (accepted, refused).",
      labelNames: ["kind", "outcome"] as const,
      registers: [registry],
    });
    const unsubscribe = options.monitoring.subscribe((event) => {
      const refused = Object.entries(event.rejected);
      batches.inc({ kind: event.kind, outcome: refused.length === 0 ? "accepted" : "refused" });
      if (event.accepted > 0) rows.inc({ kind: event.kind, outcome: "accepted" }, event.accepted);
      for (const [reason, count] of refused) rows.inc({ kind: event.kind, outcome: reason }, count ?? 0);
    });
    app.addHook("onClose", async () => unsubscribe());
  }
  return registry;
}

/**
 * One snapshot of the service's figures for every collector of a scrape: prom-client runs each metric's
 * collect in the same turn of `registry.metrics()`, so the first takes it and it is dropped before the next
 * scrape (the busiest models are ranked once per scrape, not once per metric).
 */
function perScrape<T>(read: () => T): () => T {
  let current: { value: T } | undefined;
  return () => {
    if (current === undefined) {
      current = { value: read() };
      queueMicrotask(() => {
        current = undefined;
      });
    }
    return current.value;
  };
}

/**
 * The inference server's figures. Lifetime per-model counters and the latency histogram carry the models of
 * `models` by name and every other model as `__other__`: a fixed label set, so each series only ever grows
 * (a model never moves between series, which Prometheus would read as a counter reset). Which models are
 * busiest now is told by gauges over a trailing minute, whose series come and go between scrapes.
 */
function registerInferenceMetrics(
  registry: Registry,
  inference: Pick<InferenceService, "stats" | "subscribe">,
  options: { models: readonly string[]; topModels: number },
): () => void {
  const stats = perScrape(() => inference.stats(options.topModels));
  const named = new Set(options.models.filter((model) => model !== OTHER_MODELS));
  const labelOf = (model: string) => (named.has(model) ? model : OTHER_MODELS);

  const requests = new Counter({
    name: "skala_inference_model_requests_total",
    help: 'Infer requests answered (or failed) per model: those of inference.metricsModels by name, every other as "__other__".',
    labelNames: ["model"] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: "skala_inference_model_errors_total",
    help: "Infer requests that failed, per model as in skala_inference_model_requests_total.",
    labelNames: ["model"] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: "skala_inference_model_request_duration_seconds",
    help: "Time from a decoded request to its outputs, per model as in skala_inference_model_requests_total.",
    labelNames: ["model"] as const,
    buckets: [...LATENCY_BUCKETS_SECONDS],
    registers: [registry],
  });
  // Every series exists from the start, at zero: the set never changes while the process lives.
  for (const model of [...named, OTHER_MODELS]) {
    requests.inc({ model }, 0);
    errors.inc({ model }, 0);
    latency.zero({ model });
  }
  const loads = new Summary({
    name: "skala_inference_model_load_duration_seconds",
    help: "Model load time (artifact read and session creation); quantiles over the last 10 minutes.",
    percentiles: [0.5, 0.9, 0.99],
    maxAgeSeconds: 600,
    ageBuckets: 5,
    registers: [registry],
  });
  const unsubscribe = inference.subscribe({
    answered(model, latencySeconds, failed) {
      const labels = { model: labelOf(model) };
      requests.inc(labels);
      if (failed) errors.inc(labels);
      latency.observe(labels, latencySeconds);
    },
    loaded: (durationSeconds) => loads.observe(durationSeconds),
  });

  new Gauge({
    name: "skala_inference_busiest_model_recent_requests",
    help: `Infer requests over the last ${RECENT_WINDOW_SECONDS} s (10-second steps) of the inference.metricsTopModels busiest models in that window; models leave as others get busier.`,
    labelNames: ["model"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const row of stats().traffic.busiest) this.set({ model: row.model }, row.requests);
    },
  });
  new Gauge({
    name: "skala_inference_busiest_model_recent_errors",
    help: `Failed infer requests over the last ${RECENT_WINDOW_SECONDS} s, of the models in skala_inference_busiest_model_recent_requests.`,
    labelNames: ["model"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const row of stats().traffic.busiest) this.set({ model: row.model }, row.errors);
    },
  });

  // Counts the service keeps since start (monotonic); each collect copies the current value in.
  const counters: Array<[string, string, (s: InferenceStats) => number]> = [
    ["skala_inference_cache_hits_total", "Requests that found their model loaded.", (s) => s.cache.hits],
    [
      "skala_inference_cache_misses_total",
      "Requests that had to load (or wait for) their model.",
      (s) => s.cache.misses,
    ],
    ["skala_inference_cache_loads_total", "Model loads started.", (s) => s.cache.loads],
    ["skala_inference_cache_load_failures_total", "Model loads that failed.", (s) => s.cache.loadFailures],
    ["skala_inference_cache_evictions_total", "Models evicted to make room.", (s) => s.cache.evictions],
    ["skala_inference_cache_unloads_total", "Models unloaded on request.", (s) => s.cache.unloads],
    [
      "skala_inference_cache_full_total",
      "Loads refused because nothing could be evicted yet.",
      (s) => s.cache.cacheFull,
    ],
    [
      "skala_inference_requests_refused_total",
      "Infer requests refused by admission control (503).",
      (s) => s.refused,
    ],
    [
      "skala_inference_onnx_queue_refused_total",
      "Infer requests refused because their model's ONNX worker queue was full (inference.maxQueuePerWorker, 503).",
      (s) => s.onnxQueueRefused,
    ],
    ["skala_inference_shadow_sent_total", "Shadow copies sent.", (s) => s.shadow.sent],
    [
      "skala_inference_shadow_skipped_total",
      "Shadow copies skipped (too many in flight).",
      (s) => s.shadow.skipped,
    ],
    ["skala_inference_shadow_failed_total", "Shadow copies that failed.", (s) => s.shadow.failed],
    ["skala_inference_worker_recycles_total", "ONNX worker thread recycles.", (s) => s.recycles],
    ["skala_inference_onnx_batches_total", "ONNX runs made of merged requests.", (s) => s.batching.batches],
    [
      "skala_inference_onnx_batched_requests_total",
      "Requests answered by merged ONNX runs.",
      (s) => s.batching.requests,
    ],
  ];
  for (const [name, help, value] of counters) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(value(stats()));
      },
    });
  }
  const gauges: Array<[string, string, (s: InferenceStats) => number]> = [
    [
      "skala_inference_models_served",
      "Models that answered at least one request since start.",
      (s) => s.traffic.served,
    ],
    ["skala_inference_cache_resident_models", "Models loaded now.", (s) => s.cache.residentModels],
    [
      "skala_inference_cache_resident_bytes",
      "Estimated bytes of loaded models.",
      (s) => s.cache.bytesResident,
    ],
    [
      "skala_inference_cache_reserved_bytes",
      "Resident bytes plus loads in progress.",
      (s) => s.cache.bytesReserved,
    ],
    [
      "skala_inference_requests_in_flight",
      "Infer requests admitted and not yet answered.",
      (s) => s.inflight,
    ],
    [
      "skala_inference_onnx_queue_depth",
      "Runs queued or running on ONNX worker threads.",
      (s) => s.onnxQueueDepth,
    ],
  ];
  for (const [name, help, value] of gauges) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value(stats()));
      },
    });
  }
  return unsubscribe;
}
