/**
 * Serving benchmark: the real `skala up` server in a child process (SQLite on a temp data dir, models registered
 * through the public bulk API), load from a separate process (bench/load-generator.ts, autocannon), and in the
 * same run a bare Fastify route answering the same fixed response (bench/serve-ceiling.ts): the HTTP ceiling.
 *
 *   hot       one small ONNX model (linear, 16 features → 1 output)
 *   rr1000    1,000 such models in turn, all inside the cache budget
 *   churn     1,000 models at random, with a cache budget that fits 100 (a second server, whose /metrics
 *             load-duration summary gives the load latencies)
 *   forecast  one `skala.forecast` model (SES with a negative-binomial distribution fitted on a carparts part)
 *
 * Prints req/s, p50/p99/p99.9, the ratio to the ceiling and each target's verdict; writes
 * bench/results/serve.json. Exits 0 when a target is missed (the figures are the report), 1 when a server
 * crashed or answered wrongly.
 *
 *   npm run bench:serve [-- --duration 10 --connections 32 --models 1000 --churn-fit 100 --source]
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Table from "cli-table3";
import { Command } from "commander";
import { parse } from "csv-parse/sync";
import { fitModel } from "../src/forecasting/index.js";
import {
  evaluateLinear,
  type LinearSpec,
  linearModel,
  randomInput,
} from "../src/serving/test-support/onnx-models/index.js";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("..", import.meta.url));

const options = new Command()
  .option("--duration <s>", "seconds of measured load per scenario", (v) => Number.parseInt(v, 10), 10)
  .option("--warmup <s>", "seconds of unmeasured load before each scenario", (v) => Number.parseInt(v, 10), 2)
  .option("--connections <n>", "HTTP connections", (v) => Number.parseInt(v, 10), 32)
  .option("--models <n>", "ONNX models for rr1000 and churn", (v) => Number.parseInt(v, 10), 1_000)
  .option("--churn-fit <n>", "models the churn budget fits", (v) => Number.parseInt(v, 10), 100)
  .option(
    "--churn-min-residency-ms <ms>",
    "inference.minResidencyMs of the churn server",
    (v) => Number.parseInt(v, 10),
    0,
  )
  .option(
    "--rss-overhead-mb <mb>",
    "fixed RSS allowance beyond the cache budget for the churn target",
    (v) => Number.parseInt(v, 10),
    320,
  )
  .option("--cpu-prof-dir <dir>", "write a V8 CPU profile of each server process there (node --cpu-prof)")
  .option("--source", "run the server from the TypeScript sources (tsx) instead of dist/")
  .option("--no-build", "do not rebuild a stale dist/ (implies running what is there)")
  .parse()
  .opts<{
    duration: number;
    warmup: number;
    connections: number;
    models: number;
    churnFit: number;
    churnMinResidencyMs: number;
    rssOverheadMb: number;
    cpuProfDir?: string;
    source?: boolean;
    build: boolean;
  }>();

const MB = 1_048_576;
const FEATURES = 16;
/** Seeds with the same number of digits give artifacts of the same byte size (the graph name holds the seed). */
const SEED_BASE = 10_000;
/** The server's estimate per ONNX model: artifact bytes × 1.25 (SIZE_FACTOR in src/serving/inference.service.ts). */
const ONNX_SIZE_FACTOR = 1.25;
const FORECAST_HORIZON = 12;
/** The fleet spec's default quantile levels (src/fleets/fleet-spec.ts DEFAULT_QUANTILES). */
const QUANTILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const PROJECT = "default";

const modelName = (i: number) => `m-${String(i).padStart(4, "0")}`;
const specOf = (i: number): LinearSpec => ({ inputs: FEATURES, outputs: 1, seed: SEED_BASE + i });
const inferPath = (name: string) => `/v2/models/${name}/infer`;
const fmt = (v: number | null | undefined, digits = 2) =>
  v === null || v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(digits);

/** Problems that make the run exit non-zero: crashes and wrong answers. */
const failures: string[] = [];
/** The 1-minute load average before the run and at the end of each measured load: other work on the box shows. */
const loadAtStart = loadavg()[0] as number;
const loadAverages: Record<string, number> = {};

// ── the server binary ──────────────────────────────────────────────────────────────────────────────────

function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMtime(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

/** `node bin/skala.js` on a fresh dist/ (built when stale), else the sources through tsx. */
async function serverEntry(): Promise<{ args: string[]; label: string }> {
  const source = { args: ["--import", "tsx", "src/cli/bin.ts"], label: "src/ via tsx" };
  if (options.source) return source;
  const distMtime = (() => {
    try {
      return statSync(join(ROOT, "dist/cli/bin.js")).mtimeMs;
    } catch {
      return 0;
    }
  })();
  if (distMtime < newestSourceMtime(join(ROOT, "src"))) {
    if (!options.build) {
      process.stdout.write(
        "dist/ is missing or older than src/ and --no-build was given: running src/ via tsx\n",
      );
      return source;
    }
    process.stdout.write("dist/ is missing or older than src/: npm run build…\n");
    try {
      await run("npm", ["run", "build"], { cwd: ROOT, maxBuffer: 16 * MB });
    } catch (error) {
      const output = (error as { stdout?: string }).stdout ?? String(error);
      process.stdout.write(`build failed, running src/ via tsx instead:\n${output.slice(-2000)}\n`);
      return source;
    }
  }
  return { args: ["bin/skala.js"], label: "bin/skala.js (dist/)" };
}

// ── server processes ───────────────────────────────────────────────────────────────────────────────────

interface ServerProcess {
  name: string;
  child: ChildProcess;
  url: string;
  pid: number;
  /** Set when the process exits without being asked to. */
  crashed?: string;
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines of its output, for crash reports. */
  tail(): string;
}

async function startServer(
  name: string,
  entry: string[],
  dataDir: string,
  settings: Record<string, string>,
  onLine?: (line: string) => void,
): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [
      ...(options.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`] : []),
      ...entry,
      ...["up", "--data-dir", dataDir, "--host", "127.0.0.1", "--port", "0"],
    ],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? tmpdir(), ...settings },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const recent: string[] = [];
  let partial = "";
  let stopping = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const onData = (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      recent.push(line);
      if (recent.length > 40) recent.shift();
      onLine?.(line);
    }
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const server: ServerProcess = {
    name,
    child,
    url: "",
    pid: child.pid ?? -1,
    async stop() {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
    tail: () => [...recent, partial].join("\n"),
  };
  void exited.then(({ code, signal }) => {
    if (!stopping) server.crashed = `exited with ${signal ?? `code ${code}`}`;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name}: skala up did not start:\n${server.tail()}`)),
      60_000,
    );
    const watch = (chunk: Buffer) => {
      const match = /Skala is up at (http:\/\/\S+)/.exec(chunk.toString());
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on("data", watch);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${name}: skala up exited with ${signal ?? code}:\n${server.tail()}`));
    });
  });
  server.url = url;
  return server;
}

async function startCeiling(routes: Record<string, unknown>): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "bench/serve-ceiling.ts"), JSON.stringify(routes)],
    { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening (http:\/\/\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`ceiling process exited with ${code}: ${output}`)));
  });
  return { url, child };
}

/** VmRSS and VmHWM (peak RSS) of a process, in MiB. */
function memoryOf(pid: number): { rssMb: number; peakMb: number } {
  let status = "";
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    // Gone (or no procfs): unknown.
  }
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
}

/** Resets VmHWM to the current RSS (Linux clear_refs "5"), so the next peak belongs to the next scenario. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

// ── HTTP helpers ───────────────────────────────────────────────────────────────────────────────────────

async function request(
  base: string,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string; json: () => unknown }> {
  const res = await fetch(`${base}${path}`, {
    method,
    ...(body !== undefined && {
      body: typeof body === "string" ? body : JSON.stringify(body),
      headers: { "content-type": "application/json" },
    }),
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) };
}

interface LoadResult {
  requests: number;
  rps: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  durationSeconds: number;
  statusCodes: Record<string, number>;
  exact: {
    ok: number;
    ok_rps: number;
    p50_ms: number | null;
    p90_ms: number | null;
    p99_ms: number | null;
    p99_9_ms: number | null;
    max_ms: number | null;
  };
}

async function load(
  url: string,
  paths: string[],
  body: string,
  durationSeconds: number,
  order: "random" | "cycle" = "random",
): Promise<LoadResult> {
  const job = JSON.stringify({
    url,
    paths,
    order,
    method: "POST",
    body,
    connections: options.connections,
    durationSeconds,
  });
  const { stdout } = await run(
    process.execPath,
    ["--import", "tsx", join(ROOT, "bench/load-generator.ts"), job],
    { cwd: ROOT, maxBuffer: 16 * MB },
  );
  return JSON.parse(stdout) as LoadResult;
}

/** Unmeasured load (JIT, connection set-up, models loaded), then the measured run. */
async function measure(
  label: string,
  url: string,
  paths: string[],
  body: string,
  order: "random" | "cycle" = "random",
  beforeMeasured?: () => void | Promise<void>,
): Promise<LoadResult> {
  process.stdout.write(`  ${label}: ${options.warmup} s warm-up, ${options.duration} s measured…\n`);
  if (options.warmup > 0) await load(url, paths, body, options.warmup, order);
  await beforeMeasured?.();
  const result = await load(url, paths, body, options.duration, order);
  loadAverages[label] = loadavg()[0] as number;
  return result;
}

async function inParallel<T>(
  items: T[],
  concurrency: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await task(items[next++] as T);
    }),
  );
}

// ── models ─────────────────────────────────────────────────────────────────────────────────────────────

/** The carparts part with the most demand, its trailing missing months trimmed. */
function carpartsSeries(): { id: string; values: number[] } {
  const rows = parse(readFileSync(join(ROOT, "examples/carparts/carparts.csv")), { columns: true }) as Record<
    string,
    string
  >[];
  const series = new Map<string, number[]>();
  for (const row of rows) {
    if (row.value === undefined || row.value === "" || row.value === "NA") continue;
    const id = row.series_id as string;
    const list = series.get(id) ?? [];
    list.push(Number(row.value));
    series.set(id, list);
  }
  let best = { id: "", values: [] as number[] };
  let bestSum = -1;
  for (const [id, values] of series) {
    const sum = values.reduce((a, b) => a + b, 0);
    if (sum > bestSum) {
      best = { id, values };
      bestSum = sum;
    }
  }
  return best;
}

function forecastModel() {
  const series = carpartsSeries();
  const fitted = fitModel({ method: "ses" }, series.values, { period: 12, distribution: "negbin" });
  if (!fitted.ok) throw new Error(`fitting the forecast model failed: ${fitted.error.message}`);
  return {
    seriesId: series.id,
    points: series.values.length,
    model: fitted.value,
    artifact: {
      format: "skala.forecast/v1",
      state: fitted.value.toState(),
      horizon: FORECAST_HORIZON,
      period: 12,
      quantiles: QUANTILES,
    },
  };
}

function closeTo(actual: unknown, expected: ArrayLike<number>, tolerance: number): boolean {
  if (!Array.isArray(actual) || actual.length !== expected.length) return false;
  return actual.every((v, i) => typeof v === "number" && Math.abs(v - (expected[i] as number)) <= tolerance);
}

type OutputTensor = { name: string; data: unknown };
const outputsOf = (body: unknown): OutputTensor[] => (body as { outputs?: OutputTensor[] }).outputs ?? [];

// ── the run ────────────────────────────────────────────────────────────────────────────────────────────

const cores = availableParallelism();
const started = performance.now();
process.stdout.write(
  `Serving benchmark: ${options.models} ONNX models, ${options.connections} connections, ${options.duration} s per scenario\n`,
);
const entry = await serverEntry();
process.stdout.write(`server under test: node ${entry.args.join(" ")} up (${entry.label})\n`);

const input = randomInput(FEATURES, 1, 42);
const onnxBody = JSON.stringify({
  inputs: [{ name: "input", datatype: "FP32", shape: [1, FEATURES], data: Array.from(input) }],
});
const forecastBody = JSON.stringify({
  inputs: [{ name: "horizon", datatype: "INT32", shape: [1], data: [FORECAST_HORIZON] }],
});

process.stdout.write(`building ${options.models} ONNX models and fitting the forecast model…\n`);
const artifacts = Array.from({ length: options.models }, (_, i) => linearModel(specOf(i)));
const artifactBytes = Math.max(...artifacts.map((a) => a.byteLength));
const estimatePerModel = Math.ceil(artifactBytes * ONNX_SIZE_FACTOR);
const churnBudget = estimatePerModel * options.churnFit;
const forecast = forecastModel();

const dataDir = mkdtempSync(join(tmpdir(), "skala-serve-bench-"));
const servers: ServerProcess[] = [];
let ceilingChild: ChildProcess | undefined;

const results: Record<string, LoadResult> = {};
const peaks: Record<string, number> = {};
let peakReset = true;
let churnStats:
  | {
      loads: number;
      loadP50: number;
      loadP90: number;
      loadP99: number;
      evictions: number;
      failures: number;
      cacheFull: number;
      live: boolean;
      idleRssMb: number;
      peakMb: number;
    }
  | undefined;
let forecastCeiling: LoadResult | undefined;

try {
  // The main server: default budget (1 GiB) and residency; log level warn, so nothing is logged per request.
  const main = await startServer("main", entry.args, dataDir, {
    SKALA_LOG_LEVEL: "warn",
    SKALA_WORKERS: "false",
  });
  servers.push(main);
  process.stdout.write(`main server at ${main.url} (pid ${main.pid}); registering…\n`);

  const registerStart = performance.now();
  const versions = [
    ...artifacts.map((bytes, i) => ({
      model: modelName(i),
      runtime: "onnx",
      artifact: { base64: Buffer.from(bytes).toString("base64") },
      tags: { bench: "serve" },
    })),
    { model: "forecast", runtime: "skala.forecast", artifact: { json: forecast.artifact } },
  ];
  const registered = await request(main.url, "POST", `/api/v1/projects/${PROJECT}/bulk/versions`, {
    versions,
  });
  if (registered.status !== 201) {
    throw new Error(`bulk registration answered ${registered.status}: ${registered.text.slice(0, 500)}`);
  }
  const registerSeconds = (performance.now() - registerStart) / 1000;
  process.stdout.write(`registered ${versions.length} versions in ${fmt(registerSeconds, 1)} s\n`);

  // The responses the ceiling will answer, checked against the reference evaluators first.
  const hot = await request(main.url, "POST", inferPath(modelName(0)), onnxBody);
  const hotOutput = outputsOf(hot.status === 200 ? hot.json() : {})[0];
  if (hot.status !== 200 || !closeTo(hotOutput?.data, evaluateLinear(specOf(0), input), 1e-5)) {
    failures.push(
      `hot model answered ${hot.status} ${hot.text.slice(0, 300)} (expected the linear model's output)`,
    );
  }
  const fc = await request(main.url, "POST", inferPath("forecast"), forecastBody);
  const fcMean = outputsOf(fc.status === 200 ? fc.json() : {}).find((o) => o.name === "mean");
  const expectedMean = forecast.model.forecast(FORECAST_HORIZON, { quantiles: QUANTILES }).mean;
  if (fc.status !== 200 || !closeTo(fcMean?.data, expectedMean, 1e-9)) {
    failures.push(`forecast model answered ${fc.status} ${fc.text.slice(0, 300)} (expected the fitted mean)`);
  }

  process.stdout.write("ceiling: bare Fastify in its own process, same bodies, same responses\n");
  const ceiling = await startCeiling({
    "/ceiling/hot": hot.status === 200 ? hot.json() : {},
    "/ceiling/forecast": fc.status === 200 ? fc.json() : {},
  });
  ceilingChild = ceiling.child;
  results.ceiling = await measure("ceiling", ceiling.url, ["/ceiling/hot"], onnxBody);
  forecastCeiling = await measure("ceiling-forecast", ceiling.url, ["/ceiling/forecast"], forecastBody);
  ceiling.child.kill("SIGTERM");
  ceilingChild = undefined;

  peaks.setup = memoryOf(main.pid).peakMb;
  const scenario = async (
    name: string,
    paths: string[],
    body: string,
    order: "random" | "cycle" = "random",
  ): Promise<void> => {
    results[name] = await measure(name, main.url, paths, body, order, () => {
      peakReset = resetPeak(main.pid) && peakReset;
    });
    if (main.crashed) throw new Error(`main server ${main.crashed} during ${name}`);
    peaks[name] = memoryOf(main.pid).peakMb;
  };

  await scenario("hot", [inferPath(modelName(0))], onnxBody);

  // One pass over every model first: loads them all and checks every answer.
  process.stdout.write(`  rr1000: loading and checking all ${options.models} models…\n`);
  let wrong = 0;
  const allPaths = Array.from({ length: options.models }, (_, i) => inferPath(modelName(i)));
  await inParallel(
    Array.from({ length: options.models }, (_, i) => i),
    8,
    async (i) => {
      const res = await request(main.url, "POST", allPaths[i] as string, onnxBody);
      const out = outputsOf(res.status === 200 ? res.json() : {})[0];
      if (res.status !== 200 || !closeTo(out?.data, evaluateLinear(specOf(i), input), 1e-5)) {
        wrong++;
        if (wrong <= 3) failures.push(`${modelName(i)} answered ${res.status} ${res.text.slice(0, 200)}`);
      }
    },
  );
  if (wrong > 0) failures.push(`${wrong} of ${options.models} models answered wrongly in the rr1000 pass`);
  await scenario("rr1000", allPaths, onnxBody, "cycle");

  await scenario("forecast", [inferPath("forecast")], forecastBody);

  const mainExit = await main.stop();
  if (mainExit.code !== 0)
    failures.push(`main server stopped with ${mainExit.signal ?? `code ${mainExit.code}`}`);

  // The churn server: same data dir, a budget of `churnFit` models, no minimum residency. Load latencies and
  // cache counters come from its /metrics (a summary over the last 10 minutes, and counters read before and
  // after the measured load), so the server pays nothing extra for being measured.
  const churn = await startServer("churn", entry.args, dataDir, {
    SKALA_LOG_LEVEL: "warn",
    SKALA_WORKERS: "false",
    SKALA_INFERENCE_MEMORY_BUDGET_BYTES: String(churnBudget),
    SKALA_INFERENCE_MIN_RESIDENCY_MS: String(options.churnMinResidencyMs),
  });
  servers.push(churn);
  process.stdout.write(
    `churn server at ${churn.url} (pid ${churn.pid}), budget ${churnBudget} bytes (${options.churnFit} × ${estimatePerModel}), min residency ${options.churnMinResidencyMs} ms\n`,
  );
  const scrape = async () => {
    const { text } = await request(churn.url, "GET", "/metrics");
    const value = (pattern: string) =>
      Number(new RegExp(`^${pattern} ([0-9.e+-]+)$`, "m").exec(text)?.[1] ?? Number.NaN);
    return {
      loads: value("skala_inference_cache_loads_total"),
      evictions: value("skala_inference_cache_evictions_total"),
      failures: value("skala_inference_cache_load_failures_total"),
      cacheFull: value("skala_inference_cache_full_total"),
      p50: value('skala_inference_model_load_duration_seconds\\{quantile="0.5"\\}') * 1000,
      p90: value('skala_inference_model_load_duration_seconds\\{quantile="0.9"\\}') * 1000,
      p99: value('skala_inference_model_load_duration_seconds\\{quantile="0.99"\\}') * 1000,
    };
  };
  let idleRssMb = Number.NaN;
  let before = await scrape();
  results.churn = await measure("churn", churn.url, allPaths, onnxBody, "random", async () => {
    idleRssMb = memoryOf(churn.pid).rssMb;
    before = await scrape();
  });
  const after = await scrape();
  if (churn.crashed) throw new Error(`churn server ${churn.crashed} during churn`);
  const live = await request(churn.url, "GET", "/v2/health/live").then(
    (res) => res.status === 200,
    () => false,
  );
  const churnPeak = memoryOf(churn.pid).peakMb;
  peaks.churn = churnPeak;
  churnStats = {
    loads: after.loads - before.loads,
    loadP50: after.p50,
    loadP90: after.p90,
    loadP99: after.p99,
    evictions: after.evictions - before.evictions,
    failures: after.failures - before.failures,
    cacheFull: after.cacheFull - before.cacheFull,
    live,
    idleRssMb,
    peakMb: churnPeak,
  };
  if (!live) failures.push("churn server did not answer /v2/health/live after the load");
  const churnExit = await churn.stop();
  if (churnExit.code !== 0) {
    failures.push(`churn server stopped with ${churnExit.signal ?? `code ${churnExit.code}`}`);
  }
} catch (error) {
  failures.push((error as Error).message);
} finally {
  ceilingChild?.kill("SIGTERM");
  for (const server of servers) {
    if (server.crashed) failures.push(`${server.name} server ${server.crashed}:\n${server.tail()}`);
    await server.stop();
  }
  rmSync(dataDir, { recursive: true, force: true });
}

// ── report ─────────────────────────────────────────────────────────────────────────────────────────────

const ceilingRps = results.ceiling?.exact.ok_rps ?? Number.NaN;
const churnRssLimitMb = churnBudget / MB + options.rssOverheadMb;

interface Verdict {
  target: string;
  pass: boolean | null;
}
const ratioOf = (name: string) => (results[name]?.exact.ok_rps ?? 0) / ceilingRps;
const verdicts: Record<string, Verdict> = {
  ceiling: { target: "HTTP ceiling", pass: null },
  hot: {
    target: `≥ 70 % of ceiling; p99 < 5 ms`,
    pass: results.hot
      ? ratioOf("hot") >= 0.7 && (results.hot.exact.p99_ms ?? Number.POSITIVE_INFINITY) < 5
      : false,
  },
  rr1000: { target: "≥ 60 % of ceiling", pass: results.rr1000 ? ratioOf("rr1000") >= 0.6 : false },
  churn: {
    target: "up; load p99 < 50 ms; RSS ≤ limit",
    pass: churnStats
      ? churnStats.live && churnStats.loadP99 < 50 && churnStats.peakMb <= churnRssLimitMb
      : false,
  },
  forecast: { target: "reported", pass: null },
};

const verdictText = (pass: boolean | null) => (pass === null ? "—" : pass ? "PASS" : "FAIL");
const table = new Table({
  head: [
    "scenario",
    "req/s",
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "÷ ceiling",
    "non-2xx",
    "errors",
    "peak RSS MB",
    "load avg",
    "target",
    "result",
  ],
  style: { head: [], border: [] },
});
for (const name of ["ceiling", "hot", "rr1000", "churn", "forecast"]) {
  const r = results[name];
  const verdict = verdicts[name] as Verdict;
  if (!r) {
    table.push([name, "not run", "", "", "", "", "", "", "", "", verdict.target, verdictText(verdict.pass)]);
    continue;
  }
  const non2xx = Object.entries(r.statusCodes)
    .filter(([code]) => !code.startsWith("2"))
    .map(([code, count]) => `${count}×${code}`)
    .join(" ");
  table.push([
    name,
    fmt(r.exact.ok_rps, 0),
    fmt(r.exact.p50_ms),
    fmt(r.exact.p99_ms),
    fmt(r.exact.p99_9_ms),
    fmt(ratioOf(name)),
    non2xx || "0",
    String(r.errors + r.timeouts),
    name === "ceiling" ? "" : fmt(peaks[name], 0),
    fmt(loadAverages[name], 1),
    verdict.target,
    verdictText(verdict.pass),
  ]);
}

const machine = `${cores} cores (${cpus()[0]?.model ?? "?"}), ${fmt(totalmem() / 1024 ** 3, 1)} GiB`;
const busiest = Math.max(loadAtStart, ...Object.values(loadAverages));
console.log(
  `\nServing benchmark — server ${entry.label}; ${options.connections} connections, ${options.warmup} s warm-up + ${options.duration} s measured per scenario`,
);
console.log(
  `machine: ${machine}. The server, the load generator and this script share ${cores === 1 ? "one core" : `these ${cores} cores`}, so req/s are what one box does with both sides of the wire on it, not the server alone.`,
);
console.log(
  `load average (1 min): ${fmt(loadAtStart, 1)} before the run; the column is at the end of each measured load, where this bench's own server and load generator account for about 2.${busiest > cores + 2 ? " Other work was running on the box: figures are depressed and noisy." : ""}`,
);
console.log(table.toString());
console.log(
  "req/s counts 2xx responses; latencies are per response (hrtime in the load generator), 2xx only. ÷ ceiling: req/s over the bare Fastify route's.",
);
if (results.ceiling) {
  console.log(
    `With ${options.connections} connections each waiting for its answer, mean latency ≈ ${options.connections} / req/s (Little's law): p99 < 5 ms needs more than ${Math.round(options.connections / 0.005)} req/s, and the ceiling itself has p99 ${fmt(results.ceiling.exact.p99_ms)} ms here.`,
  );
}
if (forecastCeiling && results.forecast) {
  console.log(
    `forecast vs a ceiling that answers the forecast's own, larger response: ${fmt(forecastCeiling.exact.ok_rps, 0)} req/s, ratio ${fmt(results.forecast.exact.ok_rps / forecastCeiling.exact.ok_rps)}.`,
  );
}
if (churnStats) {
  console.log(
    `churn: ${churnStats.loads} model loads during the ${options.duration} s, load latency (the server's summary over its last 10 minutes) p50 ${fmt(churnStats.loadP50)} ms, p90 ${fmt(churnStats.loadP90)} ms, p99 ${fmt(churnStats.loadP99)} ms; ${churnStats.evictions} evictions, ${churnStats.failures} failed loads, ${churnStats.cacheFull} cache-full refusals; /v2/health/live after the load: ${churnStats.live ? "200" : "NO ANSWER"}.`,
  );
  console.log(
    `churn RSS: ${fmt(churnStats.idleRssMb, 0)} MB after the warm-up, peak ${fmt(churnStats.peakMb, 0)} MB; limit = budget ${fmt(churnBudget / MB, 3)} MB (${options.churnFit} × ${estimatePerModel} bytes) + fixed overhead ${options.rssOverheadMb} MB = ${fmt(churnRssLimitMb, 0)} MB.`,
  );
}
console.log(
  `${peakReset ? "Peak RSS per scenario: VmHWM, reset before each measured load (clear_refs)" : "Peak RSS: VmHWM could not be reset, so the main server's peaks are cumulative"}. Models: linear ${FEATURES} → 1, seeds ${SEED_BASE}…, ${artifactBytes} bytes each; forecast: SES/negbin on carparts part ${forecast.seriesId} (${forecast.points} months), horizon ${FORECAST_HORIZON}, ${QUANTILES.length} quantiles.`,
);

const ms = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? null : Math.round(v * 1000) / 1000;
const scenarioJson = (name: string) => {
  const r = results[name];
  if (!r) return null;
  return {
    rps: Math.round(r.exact.ok_rps),
    p50_ms: ms(r.exact.p50_ms),
    p99_ms: ms(r.exact.p99_ms),
    ratio_to_ceiling: Number((r.exact.ok_rps / ceilingRps).toFixed(3)),
    p99_9_ms: ms(r.exact.p99_9_ms),
    max_ms: ms(r.exact.max_ms),
    requests: r.requests,
    status_codes: r.statusCodes,
    errors: r.errors,
    timeouts: r.timeouts,
    peak_rss_mb: peaks[name] === undefined ? null : Math.round(peaks[name]),
    ...(verdicts[name] && { target: verdicts[name].target, pass: verdicts[name].pass }),
  };
};
const allPeaks = Object.values(peaks).filter(Number.isFinite);
const summary = {
  ceiling_rps: Math.round(ceilingRps),
  hot: scenarioJson("hot"),
  rr1000: scenarioJson("rr1000"),
  churn: scenarioJson("churn"),
  forecast: scenarioJson("forecast"),
  churn_load_p99_ms: churnStats ? ms(churnStats.loadP99) : null,
  peak_rss_mb: allPeaks.length > 0 ? Math.round(Math.max(...allPeaks)) : null,
  details: {
    ceiling: scenarioJson("ceiling"),
    forecast_ceiling_rps: forecastCeiling ? Math.round(forecastCeiling.exact.ok_rps) : null,
    churn: churnStats && {
      loads: churnStats.loads,
      load_p50_ms: ms(churnStats.loadP50),
      load_p90_ms: ms(churnStats.loadP90),
      load_p99_ms: ms(churnStats.loadP99),
      evictions: churnStats.evictions,
      failed_loads: churnStats.failures,
      cache_full: churnStats.cacheFull,
      live_after: churnStats.live,
      idle_rss_mb: Math.round(churnStats.idleRssMb),
      budget_bytes: churnBudget,
      rss_overhead_mb: options.rssOverheadMb,
      rss_limit_mb: Math.round(churnRssLimitMb),
      min_residency_ms: options.churnMinResidencyMs,
    },
    peak_rss_mb: Object.fromEntries(Object.entries(peaks).map(([k, v]) => [k, Math.round(v)])),
    models: options.models,
    artifact_bytes: artifactBytes,
    connections: options.connections,
    duration_s: options.duration,
    warmup_s: options.warmup,
    server: entry.label,
    machine,
    node: process.version,
    failures,
    load_average_at_start: Math.round(loadAtStart * 100) / 100,
    load_average_after: Object.fromEntries(
      Object.entries(loadAverages).map(([k, v]) => [k, Math.round(v * 100) / 100]),
    ),
  },
  measured_at: new Date().toISOString(),
};
writeFileSync(join(ROOT, "bench/results/serve.json"), `${JSON.stringify(summary, null, 2)}\n`);
console.log(`written: bench/results/serve.json (${fmt((performance.now() - started) / 1000, 0)} s in all)`);

if (failures.length > 0) {
  console.error(`\nPRODUCT PROBLEMS:\n- ${failures.join("\n- ")}`);
  process.exitCode = 1;
}
