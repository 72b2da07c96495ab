import { closeSync, existsSync, fstatSync, openSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { SkalaError, type ValidationIssue } from "./errors.js";
import { parseJsonText } from "./json-text.js";

/**
 * Every setting Skala reads, with its environment variable, its CLI flag and its default.
 * docs/reference/config.md documents each row; a test fails when one is missing.
 */
export const SETTINGS = [
  {
    key: "dataDir",
    env: "SKALA_DATA_DIR",
    flag: "--data-dir",
    default: "./.skala",
    doc: "Directory for the embedded database and artifacts.",
  },
  {
    key: "server.host",
    env: "SKALA_HOST",
    flag: "--host",
    default: "127.0.0.1",
    doc: "Interface the HTTP server listens on.",
  },
  {
    key: "server.port",
    env: "SKALA_PORT",
    flag: "--port",
    default: 7070,
    doc: "TCP port of the HTTP server (0 picks a free port).",
  },
  {
    key: "server.bodyLimitBytes",
    env: "SKALA_BODY_LIMIT_BYTES",
    flag: "--body-limit-bytes",
    default: 64 * 1024 * 1024,
    doc: "Largest JSON request body, in bytes (64 MiB).",
  },
  {
    key: "server.headersTimeoutMs",
    env: "SKALA_HEADERS_TIMEOUT_MS",
    flag: "--headers-timeout-ms",
    default: 10_000,
    doc: "A request's headers must have arrived this many milliseconds (10 s) after its first byte; a slower client is answered 408 and its connection closed (Node's `server.headersTimeout`, checked every second or more often).",
  },
  {
    key: "server.requestTimeoutMs",
    env: "SKALA_REQUEST_TIMEOUT_MS",
    flag: "--request-timeout-ms",
    default: 0,
    doc: "A whole request, headers and body, must have arrived this many milliseconds after its first byte, or it is answered 408 and closed (Node's `server.requestTimeout`; at least `server.headersTimeoutMs`). 0, the default, sets no fixed cap: bodies are held to `server.bodyTimeoutMs` and `server.bodyMinBytesPerSecond`, which grow with their size, so a 2 GiB artifact upload on an honest link arrives. Answers are never cut: an event stream (`GET …/fleets/{name}/events`) has been received in full once its headers are in.",
  },
  {
    key: "server.bodyTimeoutMs",
    env: "SKALA_BODY_TIMEOUT_MS",
    flag: "--body-timeout-ms",
    default: 10_000,
    doc: "A request body must have arrived this many milliseconds (10 s) after its headers, plus 1 s per `server.bodyMinBytesPerSecond` bytes received; a slower one is answered 408 and its connection closed.",
  },
  {
    key: "server.bodyMinBytesPerSecond",
    env: "SKALA_BODY_MIN_BYTES_PER_SECOND",
    flag: "--body-min-bytes-per-second",
    default: 16_384,
    doc: "Slowest transfer rate of a request body, in bytes per second (16 KiB/s), once `server.bodyTimeoutMs` has passed.",
  },
  {
    key: "server.inflightBodyBytes",
    env: "SKALA_INFLIGHT_BODY_BYTES",
    flag: "--inflight-body-bytes",
    default: 256 * 1024 * 1024,
    doc: "Bytes of request bodies the server buffers at once over all requests (256 MiB, at least `server.bodyLimitBytes`); a body that would exceed it is answered 503 with Retry-After. Artifact uploads stream to disk and do not count.",
  },
  {
    key: "database.url",
    env: "SKALA_DATABASE_URL",
    flag: "--database-url",
    default: "",
    doc: "`postgres://…` for PostgreSQL; empty means SQLite at `<dataDir>/skala.db`; `sqlite:PATH` picks another file, `sqlite::memory:` an in-memory database.",
  },
  {
    key: "artifacts.dir",
    env: "SKALA_ARTIFACTS_DIR",
    flag: "--artifacts-dir",
    default: "",
    doc: "Directory of the content-addressed blob store; empty means `<dataDir>/artifacts`.",
  },
  {
    key: "artifacts.maxBytes",
    env: "SKALA_ARTIFACTS_MAX_BYTES",
    flag: "--artifacts-max-bytes",
    default: 2 * 1024 * 1024 * 1024,
    doc: "Largest single artifact, in bytes (2 GiB).",
  },
  {
    key: "registry.bulkMaxVersions",
    env: "SKALA_BULK_MAX_VERSIONS",
    flag: "--bulk-max-versions",
    default: 10_000,
    doc: "Most versions accepted by one bulk registration request.",
  },
  {
    key: "registry.pageSizeMax",
    env: "SKALA_PAGE_SIZE_MAX",
    flag: "--page-size-max",
    default: 1_000,
    doc: "Largest page a list or search endpoint returns.",
  },
  {
    key: "gc.graceSeconds",
    env: "SKALA_GC_GRACE_SECONDS",
    flag: "--gc-grace-seconds",
    default: 3_600,
    doc: "`skala gc` keeps unreferenced blobs younger than this, in seconds, so uploads awaiting registration survive.",
  },
  {
    key: "workers.enabled",
    env: "SKALA_WORKERS",
    flag: "--workers",
    default: true,
    doc: "Run job workers (fleet training) in this process; `false` for an API-only process.",
  },
  {
    key: "workers.trainingThreads",
    env: "SKALA_TRAINING_THREADS",
    flag: "--training-threads",
    default: 0,
    doc: "Threads that fit models; 0 means one per core.",
  },
  {
    key: "inference.project",
    env: "SKALA_INFERENCE_PROJECT",
    flag: "--inference-project",
    default: "default",
    doc: "Registry project whose models `/v2/models/{name}` serves.",
  },
  {
    key: "inference.memoryBudgetBytes",
    env: "SKALA_INFERENCE_MEMORY_BUDGET_BYTES",
    flag: "--inference-memory-budget-bytes",
    default: 1024 * 1024 * 1024,
    doc: "Memory budget of loaded models, in bytes (1 GiB); least recently used models are evicted beyond it.",
  },
  {
    key: "inference.minResidencyMs",
    env: "SKALA_INFERENCE_MIN_RESIDENCY_MS",
    flag: "--inference-min-residency-ms",
    default: 10_000,
    doc: "A loaded model is not evicted before this many milliseconds (10 s), bounding load/unload churn.",
  },
  {
    key: "inference.onnxWorkers",
    env: "SKALA_INFERENCE_ONNX_WORKERS",
    flag: "--inference-onnx-workers",
    default: 0,
    doc: "Worker threads that run ONNX sessions; 0 means one per core minus one.",
  },
  {
    key: "inference.environment",
    env: "SKALA_INFERENCE_ENVIRONMENT",
    flag: "--inference-environment",
    default: "prod",
    doc: "Environment (`dev`, `test`, `prod`) whose deployments route requests that name no version.",
  },
  {
    key: "inference.maxQueuePerWorker",
    env: "SKALA_INFERENCE_MAX_QUEUE_PER_WORKER",
    flag: "--inference-max-queue-per-worker",
    default: 64,
    doc: "Requests queued or running per ONNX worker thread; one more is answered 503 with Retry-After.",
  },
  {
    key: "inference.maxInflight",
    env: "SKALA_INFERENCE_MAX_INFLIGHT",
    flag: "--inference-max-inflight",
    default: 512,
    doc: "Inference requests the server works on at once, counted once their body has arrived (slow bodies are bounded by the `server.body*` settings instead); beyond it, 503 with Retry-After.",
  },
  {
    key: "inference.batchMaxSize",
    env: "SKALA_INFERENCE_BATCH_MAX_SIZE",
    flag: "--inference-batch-max-size",
    default: 32,
    doc: "Dynamic batching for ONNX: most requests merged into one run while the model is busy; 1 turns batching off (per model: version tag `skala.batching=off`).",
  },
  {
    key: "inference.batchMaxDelayMs",
    env: "SKALA_INFERENCE_BATCH_MAX_DELAY_MS",
    flag: "--inference-batch-max-delay-ms",
    default: 2,
    doc: "Dynamic batching for ONNX: longest a request waits for others to join its batch, in milliseconds.",
  },
  {
    key: "inference.recycleEveryLoads",
    env: "SKALA_INFERENCE_RECYCLE_EVERY_LOADS",
    flag: "--inference-recycle-every-loads",
    default: 2000,
    doc: "ONNX worker threads are replaced after this many model loads, returning native memory that session churn leaks; 0 never.",
  },
  {
    key: "inference.predictionSampleRate",
    env: "SKALA_INFERENCE_PREDICTION_SAMPLE_RATE",
    flag: "--inference-prediction-sample-rate",
    default: 1,
    doc: "Share of predictions written to the prediction log (0 to 1); a request's id decides, so retries agree.",
  },
  {
    key: "inference.predictionRetentionDays",
    env: "SKALA_INFERENCE_PREDICTION_RETENTION_DAYS",
    flag: "--inference-prediction-retention-days",
    default: 30,
    doc: "Logged predictions older than this many days are deleted (checked hourly); 0 keeps them all.",
  },
  {
    key: "inference.metricsModels",
    env: "SKALA_INFERENCE_METRICS_MODELS",
    flag: "--inference-metrics-models",
    default: "",
    doc: 'Models (comma-separated names, at most 1,000) with their own lifetime counters and latency histogram in `/metrics`; every other model counts under `model="__other__"`.',
  },
  {
    key: "inference.metricsTopModels",
    env: "SKALA_INFERENCE_METRICS_TOP_MODELS",
    flag: "--inference-metrics-top-models",
    default: 20,
    doc: "How many of the busiest models (over the last minute) `/metrics` lists in its recent-traffic gauges.",
  },
  {
    key: "alerts.allowPrivateAddresses",
    env: "SKALA_ALERTS_ALLOW_PRIVATE_ADDRESSES",
    flag: "--alerts-allow-private-addresses",
    default: true,
    doc: "Webhook receivers may be private, loopback or link-local addresses (on-premises receivers); `false` refuses them when a subscription is made and again when each delivery connects (after DNS).",
  },
  {
    key: "alerts.webhookMaxAttempts",
    env: "SKALA_ALERTS_WEBHOOK_MAX_ATTEMPTS",
    flag: "--alerts-webhook-max-attempts",
    default: 8,
    doc: "Attempts of one webhook delivery before it becomes a dead letter (1 to 20).",
  },
  {
    key: "alerts.webhookTimeoutMs",
    env: "SKALA_ALERTS_WEBHOOK_TIMEOUT_MS",
    flag: "--alerts-webhook-timeout-ms",
    default: 10_000,
    doc: "Time one delivery attempt may take, connection to the end of the answer, in ms.",
  },
  {
    key: "log.level",
    env: "SKALA_LOG_LEVEL",
    flag: "--log-level",
    default: "info",
    doc: "One of fatal, error, warn, info, debug, trace, silent.",
  },
  {
    key: "log.format",
    env: "SKALA_LOG_FORMAT",
    flag: "--log-format",
    default: "auto",
    doc: "`json` (one JSON object per line), `pretty` (human-readable lines) or `auto`: pretty when the log goes to a terminal, JSON otherwise.",
  },
] as const;

/**
 * Environment variables of the `skala` client commands, not of the server: read once by the CLI's entry
 * point, and passed over (not refused as unknown settings) by {@link loadConfig}.
 */
export const CLIENT_ENV = {
  /** The server client commands talk to when `--server` is not given. */
  server: "SKALA_SERVER",
} as const;

export type SettingKey = (typeof SETTINGS)[number]["key"];

const Port = Type.Integer({ minimum: 0, maximum: 65535 });
/** Model names (the registry's name rule) separated by commas: at most 1,000, so `/metrics` stays bounded. */
const MODEL_NAME = "[A-Za-z0-9][A-Za-z0-9._-]{0,199}";
const METRICS_MODELS_PATTERN = `^(?:${MODEL_NAME}(?:,${MODEL_NAME}){0,999})?$`;
const PositiveInt = Type.Integer({ minimum: 1 });
const NonNegativeInt = Type.Integer({ minimum: 0 });

const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1 }),
    server: Type.Object(
      {
        host: Type.String({ minLength: 1 }),
        port: Port,
        bodyLimitBytes: Type.Integer({ minimum: 1024 }),
        headersTimeoutMs: Type.Integer({ minimum: 100, maximum: 3_600_000 }),
        requestTimeoutMs: Type.Integer({ minimum: 0, maximum: 86_400_000 }),
        bodyTimeoutMs: Type.Integer({ minimum: 100, maximum: 3_600_000 }),
        bodyMinBytesPerSecond: Type.Integer({ minimum: 1 }),
        inflightBodyBytes: Type.Integer({ minimum: 1024 }),
      },
      { additionalProperties: false },
    ),
    database: Type.Object(
      { url: Type.String({ pattern: "^$|^(postgres|postgresql)://|^sqlite:" }) },
      { additionalProperties: false },
    ),
    artifacts: Type.Object({ dir: Type.String(), maxBytes: PositiveInt }, { additionalProperties: false }),
    registry: Type.Object(
      { bulkMaxVersions: PositiveInt, pageSizeMax: PositiveInt },
      { additionalProperties: false },
    ),
    gc: Type.Object({ graceSeconds: NonNegativeInt }, { additionalProperties: false }),
    workers: Type.Object(
      { enabled: Type.Boolean(), trainingThreads: Type.Integer({ minimum: 0, maximum: 256 }) },
      { additionalProperties: false },
    ),
    inference: Type.Object(
      {
        project: Type.String({ minLength: 1 }),
        memoryBudgetBytes: PositiveInt,
        minResidencyMs: NonNegativeInt,
        onnxWorkers: Type.Integer({ minimum: 0, maximum: 256 }),
        environment: Type.Union([Type.Literal("dev"), Type.Literal("test"), Type.Literal("prod")]),
        maxQueuePerWorker: Type.Integer({ minimum: 1, maximum: 100_000 }),
        maxInflight: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
        batchMaxSize: Type.Integer({ minimum: 1, maximum: 4096 }),
        batchMaxDelayMs: Type.Integer({ minimum: 0, maximum: 1000 }),
        recycleEveryLoads: NonNegativeInt,
        predictionSampleRate: Type.Number({ minimum: 0, maximum: 1 }),
        predictionRetentionDays: Type.Integer({ minimum: 0, maximum: 36_500 }),
        metricsModels: Type.String({ pattern: METRICS_MODELS_PATTERN }),
        metricsTopModels: Type.Integer({ minimum: 0, maximum: 1000 }),
      },
      { additionalProperties: false },
    ),
    alerts: Type.Object(
      {
        allowPrivateAddresses: Type.Boolean(),
        webhookMaxAttempts: Type.Integer({ minimum: 1, maximum: 20 }),
        webhookTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000 }),
      },
      { additionalProperties: false },
    ),
    log: Type.Object(
      {
        level: Type.Union(
          ["fatal", "error", "warn", "info", "debug", "trace", "silent"].map((level) => Type.Literal(level)),
        ),
        format: Type.Union([Type.Literal("auto"), Type.Literal("json"), Type.Literal("pretty")]),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/**
 * Every key the configuration schema accepts (`server.port`), leaves only, in the schema's order: what a
 * config file may set, whether or not a SETTINGS row documents it (a test holds the two together).
 */
export function configSchemaKeys(): string[] {
  const keys: string[] = [];
  const walk = (schema: TSchema, prefix: string) => {
    if (schema.type === "object" && schema.properties) {
      for (const [key, inner] of Object.entries(schema.properties as Record<string, TSchema>)) {
        walk(inner, prefix ? `${prefix}.${key}` : key);
      }
    } else keys.push(prefix);
  };
  walk(ConfigSchema, "");
  return keys;
}

export type SkalaConfig = Static<typeof ConfigSchema> & {
  /** Resolved locations derived from the settings above. */
  readonly resolved: { dataDir: string; databaseUrl: string; artifactsDir: string };
};

type Layer = Record<string, unknown>;

/** Where one layer of settings came from; named in error messages. */
type LayerSource = "defaults" | "file" | "env" | "flags";

export interface LoadConfigInput {
  /** Parsed CLI flags keyed by setting key (`server.port`), already strings or numbers. */
  flags?: Partial<Record<SettingKey, unknown>>;
  /** The process environment; only `SKALA_*` variables are read. */
  env?: Record<string, string | undefined>;
  /** Path of the config file; defaults to `./skala.config.json` when it exists. */
  configFile?: string;
  cwd?: string;
}

function setPath(target: Layer, key: string, value: unknown): void {
  const parts = key.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next === "object" && next !== null) node = next as Layer;
    else {
      const created: Layer = {};
      node[part] = created;
      node = created;
    }
  }
  node[parts[parts.length - 1] as string] = value;
}

function deepMerge(base: Layer, over: Layer): Layer {
  const out: Layer = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    if (
      value &&
      typeof value === "object" &&
      !Array.isArray(value) &&
      current &&
      typeof current === "object"
    ) {
      out[key] = deepMerge(current as Layer, value as Layer);
    } else if (value !== undefined) {
      out[key] = value;
    }
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Partial schema: each layer may set any subset of the settings. */
function partialOf(schema: TSchema): TSchema {
  if (schema.type === "object" && schema.properties) {
    const properties: Record<string, TSchema> = {};
    for (const [key, inner] of Object.entries(schema.properties as Record<string, TSchema>)) {
      properties[key] = Type.Optional(partialOf(inner));
    }
    return Type.Object(properties, { additionalProperties: false });
  }
  return schema;
}
const PartialConfigSchema = partialOf(ConfigSchema);

function describeSource(source: LayerSource, path: string, fileName: string): string {
  const key = path.replace(/^\//, "").replaceAll("/", ".");
  const setting = SETTINGS.find((s) => s.key === key);
  switch (source) {
    case "env":
      return setting ? `env ${setting.env}` : `env ${key}`;
    case "flags":
      return setting ? `flag ${setting.flag}` : `flag ${key}`;
    case "file":
      return `${fileName}${path}`;
    case "defaults":
      return `default ${key}`;
  }
}

function checkLayer(layer: Layer, source: LayerSource, fileName: string): ValidationIssue[] {
  const converted = Value.Convert(PartialConfigSchema, structuredClone(layer)) as Layer;
  Object.assign(layer, converted);
  return [...Value.Errors(PartialConfigSchema, converted)].map((error) => ({
    path: describeSource(source, error.path, fileName),
    message: error.message,
  }));
}

/** Largest config file read (1 MiB; the whole configuration is a few kilobytes). */
export const CONFIG_FILE_MAX_BYTES = 1 << 20;

/** The file's text, refused as FILE_TOO_LARGE by the size of the opened file before any of it is read. */
function readConfigFile(fileName: string): string {
  const fd = openSync(fileName, "r");
  try {
    const { size } = fstatSync(fd);
    if (size > CONFIG_FILE_MAX_BYTES) {
      throw new SkalaError(
        "FILE_TOO_LARGE",
        `${fileName}: ${size} bytes, more than the ${CONFIG_FILE_MAX_BYTES} bytes a config file may have`,
      );
    }
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * Loads the configuration once: flags > `SKALA_*` environment > config file > defaults.
 * Every problem in every layer is reported together in one CONFIG_INVALID error; the result is frozen.
 */
export function loadConfig(input: LoadConfigInput = {}): SkalaConfig {
  const cwd = input.cwd ?? process.cwd();
  const defaults: Layer = {};
  const envLayer: Layer = {};
  const flagLayer: Layer = {};
  for (const setting of SETTINGS) {
    setPath(defaults, setting.key, setting.default);
    const fromEnv = input.env?.[setting.env];
    if (fromEnv !== undefined) setPath(envLayer, setting.key, fromEnv);
    const fromFlag = input.flags?.[setting.key];
    if (fromFlag !== undefined) setPath(flagLayer, setting.key, fromFlag);
  }
  const issues: ValidationIssue[] = [];
  for (const name of Object.keys(input.env ?? {})) {
    if (
      name.startsWith("SKALA_") &&
      !SETTINGS.some((s) => s.env === name) &&
      !Object.values(CLIENT_ENV).some((clientName) => clientName === name) &&
      !name.startsWith("SKALA_TEST_")
    ) {
      issues.push({ path: `env ${name}`, message: "unknown setting" });
    }
  }

  const explicitFile = input.configFile !== undefined;
  const fileName = resolve(cwd, input.configFile ?? "skala.config.json");
  let fileLayer: Layer = {};
  if (existsSync(fileName)) {
    let text: string | undefined;
    try {
      text = readConfigFile(fileName);
    } catch (error) {
      if (error instanceof SkalaError) throw error;
      issues.push({ path: fileName, message: `cannot be read (${(error as NodeJS.ErrnoException).code})` });
    }
    const parsed = text === undefined ? undefined : parseJsonText(text);
    if (parsed && !parsed.ok) issues.push({ path: fileName, message: `is ${parsed.error}` });
    else if (parsed?.ok) {
      const value = parsed.value;
      if (!value || typeof value !== "object" || Array.isArray(value)) {
        issues.push({ path: fileName, message: "must contain a JSON object" });
      } else fileLayer = value as Layer;
    }
  } else if (explicitFile) {
    issues.push({ path: fileName, message: "config file does not exist" });
  }

  issues.push(...checkLayer(fileLayer, "file", fileName));
  issues.push(...checkLayer(envLayer, "env", fileName));
  issues.push(...checkLayer(flagLayer, "flags", fileName));
  if (issues.length > 0) {
    throw new SkalaError("CONFIG_INVALID", `invalid configuration: ${issues.length} problem(s)`, { issues });
  }

  const merged = deepMerge(deepMerge(deepMerge(defaults, fileLayer), envLayer), flagLayer);
  const finalIssues = [...Value.Errors(ConfigSchema, merged)].map((e) => ({
    path: e.path,
    message: e.message,
  }));
  if (finalIssues.length > 0) {
    throw new SkalaError("CONFIG_INVALID", "invalid configuration", { issues: finalIssues });
  }
  const config = merged as Static<typeof ConfigSchema>;
  const dataDir = isAbsolute(config.dataDir) ? config.dataDir : resolve(cwd, config.dataDir);
  const databaseUrl = config.database.url || `sqlite:${join(dataDir, "skala.db")}`;
  const artifactsDir = config.artifacts.dir ? resolve(cwd, config.artifacts.dir) : join(dataDir, "artifacts");
  return deepFreeze({ ...config, resolved: { dataDir, databaseUrl, artifactsDir } });
}
