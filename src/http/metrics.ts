import type { FastifyInstance } from "fastify";
import { collectDefaultMetrics, Histogram, Registry } from "prom-client";
import { type InferenceStats, LATENCY_BUCKETS_SECONDS } from "../serving/index.js";

/**
 * Prometheus metrics for one app instance. Durations are labelled by route template
 * (`/api/v1/projects/:project/models/:model`), never by raw URL, so cardinality stays bounded.
 */
export function installMetrics(app: FastifyInstance): Registry {
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
  return registry;
}

/** Escapes a label value for the Prometheus text format. */
function labelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/**
 * The inference server's figures in the Prometheus text format. Per-model series exist for the busiest
 * `topModels` models only, plus one `model="__other__"` row for the rest, so the output is bounded however
 * many models are served. Written here rather than with prom-client because the top N changes between scrapes
 * and prom-client's metrics keep every label set they ever saw.
 */
export function inferenceMetricsText(stats: InferenceStats): string {
  const lines: string[] = [];
  const metric = (name: string, type: "counter" | "gauge" | "histogram" | "summary", help: string) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  const { rows } = stats.traffic;
  metric(
    "skala_inference_model_requests_total",
    "counter",
    "Infer requests answered per model (busiest models by name, the rest as __other__).",
  );
  for (const row of rows) {
    lines.push(`skala_inference_model_requests_total{model="${labelValue(row.model)}"} ${row.requests}`);
  }
  metric("skala_inference_model_errors_total", "counter", "Infer requests per model that failed.");
  for (const row of rows) {
    lines.push(`skala_inference_model_errors_total{model="${labelValue(row.model)}"} ${row.errors}`);
  }
  metric(
    "skala_inference_model_request_duration_seconds",
    "histogram",
    "Time from a decoded request to its outputs, per model.",
  );
  for (const row of rows) {
    const model = labelValue(row.model);
    LATENCY_BUCKETS_SECONDS.forEach((bound, i) => {
      lines.push(
        `skala_inference_model_request_duration_seconds_bucket{model="${model}",le="${bound}"} ${row.buckets[i]}`,
      );
    });
    lines.push(
      `skala_inference_model_request_duration_seconds_bucket{model="${model}",le="+Inf"} ${row.requests}`,
      `skala_inference_model_request_duration_seconds_sum{model="${model}"} ${row.latencySecondsSum}`,
      `skala_inference_model_request_duration_seconds_count{model="${model}"} ${row.requests}`,
    );
  }
  metric("skala_inference_models_served", "gauge", "Models that answered at least one request since start.");
  lines.push(`skala_inference_models_served ${stats.traffic.models}`);

  const { cache } = stats;
  const counters: Array<[string, number, string]> = [
    ["skala_inference_cache_hits_total", cache.hits, "Requests that found their model loaded."],
    [
      "skala_inference_cache_misses_total",
      cache.misses,
      "Requests that had to load (or wait for) their model.",
    ],
    ["skala_inference_cache_loads_total", cache.loads, "Model loads started."],
    ["skala_inference_cache_load_failures_total", cache.loadFailures, "Model loads that failed."],
    ["skala_inference_cache_evictions_total", cache.evictions, "Models evicted to make room."],
    ["skala_inference_cache_unloads_total", cache.unloads, "Models unloaded on request."],
    [
      "skala_inference_cache_full_total",
      cache.cacheFull,
      "Loads refused because nothing could be evicted yet.",
    ],
    [
      "skala_inference_requests_refused_total",
      stats.refused,
      "Infer requests refused by admission control (503).",
    ],
    ["skala_inference_shadow_sent_total", stats.shadow.sent, "Shadow copies sent."],
    [
      "skala_inference_shadow_skipped_total",
      stats.shadow.skipped,
      "Shadow copies skipped (too many in flight).",
    ],
    ["skala_inference_shadow_failed_total", stats.shadow.failed, "Shadow copies that failed."],
    ["skala_inference_worker_recycles_total", stats.recycles, "ONNX worker thread recycles."],
    ["skala_inference_onnx_batches_total", stats.batching.batches, "ONNX runs made of merged requests."],
    [
      "skala_inference_onnx_batched_requests_total",
      stats.batching.requests,
      "Requests answered by merged ONNX runs.",
    ],
  ];
  for (const [name, value, help] of counters) {
    metric(name, "counter", help);
    lines.push(`${name} ${value}`);
  }
  metric(
    "skala_inference_model_load_duration_seconds",
    "summary",
    "Model load time (artifact read and session creation) over the last 1,024 loads.",
  );
  for (const { q, ms } of stats.loads.quantiles) {
    lines.push(`skala_inference_model_load_duration_seconds{quantile="${q}"} ${ms / 1000}`);
  }
  lines.push(
    `skala_inference_model_load_duration_seconds_sum ${stats.loads.sumMs / 1000}`,
    `skala_inference_model_load_duration_seconds_count ${stats.loads.count}`,
  );
  const gauges: Array<[string, number, string]> = [
    ["skala_inference_cache_resident_models", cache.residentModels, "Models loaded now."],
    ["skala_inference_cache_resident_bytes", cache.bytesResident, "Estimated bytes of loaded models."],
    ["skala_inference_cache_reserved_bytes", cache.bytesReserved, "Resident bytes plus loads in progress."],
    ["skala_inference_requests_in_flight", stats.inflight, "Infer requests admitted and not yet answered."],
    [
      "skala_inference_onnx_queue_depth",
      stats.onnxQueueDepth,
      "Runs queued or running on ONNX worker threads.",
    ],
  ];
  for (const [name, value, help] of gauges) {
    metric(name, "gauge", help);
    lines.push(`${name} ${value}`);
  }
  return `${lines.join("\n")}\n`;
}
