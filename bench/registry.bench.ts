/**
 * Registry benchmark: bulk-registers 100,000 versions, then measures get-by-number, alias resolution, a list
 * page and a search, directly through the services (one call at a time, and with as many calls in flight as
 * the HTTP load has connections) and over HTTP with load from a separate process: the same service call, the
 * same arguments and page size each way. Peers measured in the same run: raw better-sqlite3 inserts of the
 * same rows (the storage floor) and a bare Fastify route (the HTTP ceiling). Usage:
 *   npm run bench:registry [-- --versions 100000 --batch 5000 --postgres postgres://…]   (--help: all options)
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import SQLite from "better-sqlite3";
import { Command } from "commander";
import Fastify from "fastify";
import { createFsBlobStore } from "../src/artifacts/index.js";
import { systemClock } from "../src/core/index.js";
import { buildApp } from "../src/http/index.js";
import { createRegistry, type Registry } from "../src/registry/index.js";
import { migrateToLatest, openStore, type Store } from "../src/store/index.js";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("..", import.meta.url));

const options = new Command()
  .option("--versions <n>", "versions to register", (v) => Number.parseInt(v, 10), 100_000)
  .option("--batch <n>", "versions per bulk request", (v) => Number.parseInt(v, 10), 5_000)
  .option("--models <n>", "distinct models", (v) => Number.parseInt(v, 10), 10_000)
  .option("--artifacts <n>", "distinct artifacts uploaded first", (v) => Number.parseInt(v, 10), 2_000)
  .option("--samples <n>", "direct-call samples per operation", (v) => Number.parseInt(v, 10), 2_000)
  .option("--duration <s>", "seconds of HTTP load per operation", (v) => Number.parseInt(v, 10), 5)
  .option("--connections <n>", "HTTP connections", (v) => Number.parseInt(v, 10), 16)
  .option("--postgres <url>", "also run on this PostgreSQL server (a scratch database is created)")
  .parse()
  .opts<{
    versions: number;
    batch: number;
    models: number;
    artifacts: number;
    samples: number;
    duration: number;
    connections: number;
    postgres?: string;
  }>();

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

interface CallTimes {
  p50_ms: number;
  p99_ms: number;
  ops_per_s: number;
}

/**
 * `samples` calls, `inFlight` at a time (each caller starts its next call when its last one answers, as each
 * HTTP connection does). With one in flight this is the call's own latency; with as many as the HTTP load has
 * connections it includes the time a call waits for the others on the one event loop, which HTTP latency
 * includes too: a synchronous SQLite query of S ms answers N waiting callers in about N × S ms.
 */
async function timeCalls(
  samples: number,
  call: (i: number) => Promise<unknown>,
  inFlight = 1,
): Promise<CallTimes> {
  const durations: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < samples) {
        const i = next++;
        const start = performance.now();
        await call(i);
        durations.push(performance.now() - start);
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  durations.sort((a, b) => a - b);
  return {
    p50_ms: percentile(durations, 50),
    p99_ms: percentile(durations, 99),
    ops_per_s: samples / elapsedS,
  };
}

interface LoadResult {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  non2xx: number;
}

async function load(url: string, paths: string[]): Promise<LoadResult> {
  const job = JSON.stringify({
    url,
    paths,
    connections: options.connections,
    durationSeconds: options.duration,
  });
  const { stdout } = await run(
    process.execPath,
    ["--import", "tsx", join(ROOT, "bench/load-generator.ts"), job],
    {
      cwd: ROOT,
      maxBuffer: 16 << 20,
    },
  );
  return JSON.parse(stdout) as LoadResult;
}

const modelName = (i: number) => `part-${String(i % options.models).padStart(6, "0")}`;

/** Raw better-sqlite3: the same version rows inserted with prepared statements in one transaction per batch. */
function rawSqliteInsertRate(): number {
  const dir = mkdtempSync(join(tmpdir(), "skala-bench-raw-"));
  const db = new SQLite(join(dir, "raw.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(`create table v (id text primary key, model_id text, version integer, runtime text, digest text, size integer,
    signature text, status text, description text, created_at text, unique(model_id, version));
    create table m (version_id text, key text, value real, primary key (version_id, key));
    create table t (version_id text, key text, value text, primary key (version_id, key));`);
  const insertVersion = db.prepare("insert into v values (?,?,?,?,?,?,?,?,?,?)");
  const insertMetric = db.prepare("insert into m values (?,?,?)");
  const insertTag = db.prepare("insert into t values (?,?,?)");
  const start = performance.now();
  for (let done = 0; done < options.versions; done += options.batch) {
    db.transaction(() => {
      for (let i = done; i < Math.min(options.versions, done + options.batch); i++) {
        const id = `ver_${i}`;
        insertVersion.run(
          id,
          modelName(i),
          Math.floor(i / options.models) + 1,
          "skala.forecast",
          "sha256:x",
          200,
          "",
          "ready",
          "",
          "2026",
        );
        insertMetric.run(id, "mase", (i % 1000) / 1000);
        insertMetric.run(id, "rmsse", 1);
        insertTag.run(id, "segment", i % 2 ? "A" : "B");
        insertTag.run(id, "method", "ets");
      }
    })();
  }
  const rate = options.versions / ((performance.now() - start) / 1000);
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

async function benchDialect(name: "sqlite" | "postgres", databaseUrl: (dir: string) => Promise<string>) {
  const dir = mkdtempSync(join(tmpdir(), `skala-bench-${name}-`));
  const store: Store = openStore(await databaseUrl(dir));
  await migrateToLatest(store);
  const registry: Registry = createRegistry({
    store,
    blobs: createFsBlobStore(join(dir, "artifacts")),
    clock: systemClock,
    limits: { bulkMaxVersions: 10_000, pageSizeMax: 1_000, artifactMaxBytes: 1 << 30 },
  });
  await registry.projects.ensure("default");

  process.stdout.write(`[${name}] uploading ${options.artifacts} artifacts…\n`);
  let start = performance.now();
  const digests: string[] = [];
  for (let i = 0; i < options.artifacts; i++) {
    const state = {
      method: "ets",
      model: "ANN",
      alpha: 0.1 + (i % 90) / 100,
      level: i,
      residuals: Array.from({ length: 24 }, (_, k) => (i * k) % 7),
    };
    digests.push((await registry.artifacts.upload(Buffer.from(JSON.stringify(state)))).digest);
  }
  const artifactsPerS = options.artifacts / ((performance.now() - start) / 1000);

  process.stdout.write(
    `[${name}] registering ${options.versions} versions in batches of ${options.batch}…\n`,
  );
  start = performance.now();
  for (let done = 0; done < options.versions; done += options.batch) {
    const versions = Array.from({ length: Math.min(options.batch, options.versions - done) }, (_, k) => {
      const i = done + k;
      return {
        model: modelName(i),
        fleet: "parts",
        runtime: "skala.forecast",
        artifact: { digest: digests[i % digests.length] as string },
        metrics: { mase: (i % 1000) / 1000, rmsse: 1 },
        params: { method: "ets" },
        tags: { segment: i % 2 ? "A" : "B" },
        ...(i % 7 === 0 && { aliases: ["champion"] }),
      };
    });
    await registry.versions.bulkRegister("default", { versions });
  }
  const bulkSeconds = (performance.now() - start) / 1000;
  const bulkPerS = options.versions / bulkSeconds;

  const randomModel = () => modelName(Math.floor(Math.random() * Math.min(options.models, options.versions)));
  // Models with a champion: every 7th registration set one; model i%7 pattern guarantees coverage for most.
  const championModels: string[] = [];
  for (let i = 0; i < options.versions && championModels.length < 2_000; i += 7)
    championModels.push(modelName(i));
  const randomChampion = () => championModels[Math.floor(Math.random() * championModels.length)] as string;
  const filter = "metrics.mase < 0.05 and tags.segment = 'A'";

  // The calls the HTTP routes below make, with the same arguments: GET …/versions/1 is versions.get(…, 1),
  // GET …/resolve/M@champion is versions.resolve, GET …/models?prefix= is models.list, GET …/versions?filter=
  // is versions.search with the same filter and page size.
  const calls = {
    get: () => registry.versions.get("default", randomModel(), 1),
    alias: () => registry.versions.resolve("default", `${randomChampion()}@champion`),
    list: () =>
      registry.models.list("default", { namePrefix: `part-00${Math.floor(Math.random() * 10)}`, limit: 100 }),
    search: () => registry.versions.search("default", { filter, limit: 100 }),
  };
  const samplesOf = (op: keyof typeof calls) =>
    op === "get" || op === "alias" ? options.samples : Math.min(options.samples, 500);
  const timeAll = async (inFlight: number) => {
    const times = {} as Record<keyof typeof calls, CallTimes>;
    for (const op of Object.keys(calls) as (keyof typeof calls)[]) {
      times[op] = await timeCalls(samplesOf(op), calls[op], inFlight);
    }
    return times;
  };
  process.stdout.write(`[${name}] direct service calls, one at a time…\n`);
  const direct = await timeAll(1);
  process.stdout.write(`[${name}] direct service calls, ${options.connections} in flight…\n`);
  const directConcurrent = await timeAll(options.connections);

  const app = await buildApp({ store, registry, bodyLimitBytes: 64 << 20 });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  const P = "/api/v1/projects/default";
  const sample = (n: number, f: () => string) => Array.from({ length: n }, f);
  process.stdout.write(`[${name}] HTTP load from a separate process…\n`);
  const http = {
    get: await load(
      url,
      sample(2_000, () => `${P}/models/${randomModel()}/versions/1`),
    ),
    alias: await load(
      url,
      sample(2_000, () => `${P}/resolve/${randomChampion()}@champion`),
    ),
    list: await load(
      url,
      sample(100, () => `${P}/models?limit=100&prefix=part-00${Math.floor(Math.random() * 10)}`),
    ),
    search: await load(url, [`${P}/versions?limit=100&filter=${encodeURIComponent(filter)}`]),
  };
  await app.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return { artifactsPerS, bulkPerS, bulkSeconds, direct, directConcurrent, http };
}

async function ceiling(): Promise<LoadResult> {
  const bare = Fastify();
  const body = {
    id: "ver_x",
    model: "part-000001",
    version: 1,
    runtime: "skala.forecast",
    metrics: { mase: 0.5 },
  };
  bare.get("/bare", async () => body);
  const url = await bare.listen({ host: "127.0.0.1", port: 0 });
  const result = await load(url, ["/bare"]);
  await bare.close();
  return result;
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

const rawRate = rawSqliteInsertRate();
const bare = await ceiling();
const results: Record<string, Awaited<ReturnType<typeof benchDialect>>> = {};
results.sqlite = await benchDialect("sqlite", async (dir) => `sqlite:${join(dir, "skala.db")}`);
if (options.postgres) {
  const adminUrl = options.postgres;
  const { default: pg } = await import("pg");
  const dbName = `skala_bench_${Date.now()}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  results.postgres = await benchDialect("postgres", async () => url.toString());
  const cleanup = new pg.Client({ connectionString: adminUrl });
  await cleanup.connect();
  await cleanup.query(`drop database if exists ${dbName} with (force)`);
  await cleanup.end();
}

console.log(
  `\nRegistry benchmark: ${options.versions} versions on ${options.models} models, batches of ${options.batch}`,
);
console.log(`peer: raw better-sqlite3 prepared inserts of the same rows: ${fmt(rawRate, 0)} versions/s`);
console.log(
  `peer: bare Fastify route (HTTP ceiling): ${fmt(bare.rps, 0)} req/s, p50 ${bare.p50_ms} ms, p99 ${bare.p99_ms} ms\n`,
);
for (const [name, r] of Object.entries(results)) {
  console.log(
    `${name}: artifacts uploaded ${fmt(r.artifactsPerS, 0)}/s; bulk registration ${fmt(r.bulkPerS, 0)} versions/s (${fmt(r.bulkSeconds, 1)} s, ${fmt(r.bulkPerS / rawRate)}× raw SQLite)`,
  );
  console.table(
    Object.fromEntries(
      (["get", "alias", "list", "search"] as const).map((op) => [
        op,
        {
          "direct p50 ms": fmt(r.direct[op].p50_ms, 3),
          "direct p99 ms": fmt(r.direct[op].p99_ms, 3),
          [`direct ×${options.connections} p99 ms`]: fmt(r.directConcurrent[op].p99_ms, 1),
          "direct calls/s": fmt(r.directConcurrent[op].ops_per_s, 0),
          "http req/s": fmt(r.http[op].rps, 0),
          "http p50 ms": r.http[op].p50_ms,
          "http p99 ms": r.http[op].p99_ms,
          [`http p99 ÷ direct ×${options.connections}`]: fmt(
            r.http[op].p99_ms / r.directConcurrent[op].p99_ms,
          ),
          "÷ ceiling": fmt(r.http[op].rps / bare.rps),
          "non-2xx": r.http[op].non2xx + r.http[op].errors,
        },
      ]),
    ),
  );
}

const sqlite = results.sqlite;
const summary = {
  versions: options.versions,
  bulk_versions_per_s: Math.round(sqlite.bulkPerS),
  get_p99_ms: sqlite.http.get.p99_ms,
  alias_p99_ms: sqlite.http.alias.p99_ms,
  list_p99_ms: sqlite.http.list.p99_ms,
  search_p99_ms: sqlite.http.search.p99_ms,
  direct: {
    get_p99_ms: sqlite.direct.get.p99_ms,
    alias_p99_ms: sqlite.direct.alias.p99_ms,
    list_p99_ms: sqlite.direct.list.p99_ms,
    search_p99_ms: sqlite.direct.search.p99_ms,
  },
  /** The same calls with as many in flight as the HTTP load has connections. */
  direct_concurrent: {
    connections: options.connections,
    get_p99_ms: sqlite.directConcurrent.get.p99_ms,
    alias_p99_ms: sqlite.directConcurrent.alias.p99_ms,
    list_p99_ms: sqlite.directConcurrent.list.p99_ms,
    search_p99_ms: sqlite.directConcurrent.search.p99_ms,
    search_calls_per_s: Math.round(sqlite.directConcurrent.search.ops_per_s),
  },
  artifacts_per_s: Math.round(sqlite.artifactsPerS),
  raw_sqlite_versions_per_s: Math.round(rawRate),
  ceiling_rps: Math.round(bare.rps),
  ...(results.postgres && {
    postgres: {
      bulk_versions_per_s: Math.round(results.postgres.bulkPerS),
      get_p99_ms: results.postgres.http.get.p99_ms,
      alias_p99_ms: results.postgres.http.alias.p99_ms,
      list_p99_ms: results.postgres.http.list.p99_ms,
      search_p99_ms: results.postgres.http.search.p99_ms,
    },
  }),
  measured_at: new Date().toISOString(),
};
writeFileSync(join(ROOT, "bench/results/registry.json"), `${JSON.stringify(summary, null, 2)}\n`);
console.log(
  `\ntargets: bulk ≥ 5000 versions/s → ${summary.bulk_versions_per_s}; get p99 < 5 ms → ${summary.get_p99_ms}; alias p99 < 5 ms → ${summary.alias_p99_ms}`,
);
console.log(
  `search over HTTP at ${options.connections} connections within 3× of the same call with ${options.connections} in flight → ${fmt(summary.search_p99_ms / summary.direct_concurrent.search_p99_ms)}× (${summary.search_p99_ms} ms against ${fmt(summary.direct_concurrent.search_p99_ms, 1)} ms; one call alone: ${fmt(summary.direct.search_p99_ms, 1)} ms)`,
);
console.log("written: bench/results/registry.json");
