/**
 * Monitoring store measurement (docs/adr/0005-monitoring-store.md): ingests `--rows` prediction rows of a
 * realistic shape (project, model of `--models`, version, text prediction id, timestamp, nullable segment and
 * period for forecasts, 20 numeric features, 1–3 outputs) in batches of `--batch`, into
 *   sqlite-kysely   typed columns, features/outputs packed as Float32/Float64 BLOBs, multi-row INSERTs through
 *                   Kysely, one transaction per batch (what src/monitoring's adapter does);
 *   sqlite-stmt     the same table through one prepared statement per row (the driver's floor);
 *   postgres        the same table, one `INSERT … SELECT FROM unnest($1::text[], …)` per batch;
 *   duckdb          a native table (one FLOAT column per feature) through the Appender, then exported as a
 *                   Parquet segment for its size;
 * then times the read a drift check needs: for every model, its last 10,000 predictions' 20 features binned
 * against fixed edges, read as rows and binned in JS (every store), or binned in SQL (DuckDB). Usage:
 *   npx tsx bench/monitor-store.bench.ts [--rows 1000000 --batch 5000 --models 1000 --postgres URL]
 * The figures are noisy on a shared machine: run it twice and read them as orders of magnitude.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import SQLite from "better-sqlite3";
import { Command } from "commander";
import { Kysely, SqliteDialect } from "kysely";
import pg from "pg";
import { createKyselyMonitoringStore, MonitoringService } from "../src/monitoring/index.js";
import { migrateToLatest, openStore } from "../src/store/index.js";

const options = new Command()
  .option("--rows <n>", "prediction rows", (v) => Number.parseInt(v, 10), 1_000_000)
  .option("--batch <n>", "rows per batch", (v) => Number.parseInt(v, 10), 5_000)
  .option("--models <n>", "distinct models", (v) => Number.parseInt(v, 10), 1_000)
  .option("--window <n>", "predictions per model read by the check", (v) => Number.parseInt(v, 10), 10_000)
  .option(
    "--postgres <url>",
    "PostgreSQL server (a scratch database is created)",
    process.env.SKALA_TEST_POSTGRES_URL,
  )
  .option("--skip <stores>", "comma-separated stores to skip", "")
  .option(
    "--duckdb-sample <n>",
    "models DuckDB's per-model reads are timed on (scaled to all)",
    (v) => Number.parseInt(v, 10),
    100,
  )
  .parse()
  .opts<{
    rows: number;
    batch: number;
    models: number;
    window: number;
    postgres?: string;
    skip: string;
    duckdbSample: number;
  }>();

const FEATURES = 20;
const EDGES = Float64Array.from({ length: 11 }, (_, i) => -2.5 + i * 0.5); // 10 bins + under/overflow
const BINS = EDGES.length + 1;
const T0 = Date.parse("2026-12-01T00:00:00Z");
const skip = new Set(options.skip.split(",").filter(Boolean));

interface Row {
  project: string;
  model: string;
  version: number;
  predictionId: string;
  at: number;
  segment: string | null;
  period: string | null;
  features: Float32Array;
  outputs: Float64Array;
}

/** A deterministic pseudo-random stream (mulberry32), so every store ingests the same rows. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function batchRows(start: number, count: number): Row[] {
  const rnd = random(start + 1);
  const rows: Row[] = [];
  for (let i = start; i < start + count; i++) {
    const m = i % options.models;
    const features = new Float32Array(FEATURES);
    for (let f = 0; f < FEATURES; f++) features[f] = (rnd() + rnd() + rnd() - 1.5) * 2;
    const outputs = new Float64Array(1 + (m % 3));
    for (let o = 0; o < outputs.length; o++) outputs[o] = rnd();
    const forecast = m % 10 === 0;
    rows.push({
      project: "default",
      model: `model-${String(m).padStart(4, "0")}`,
      version: 1 + (m % 5),
      predictionId: `${(i * 2654435761) >>> 0}-${i.toString(36)}`,
      at: T0 + Math.floor((i * 86_400_000) / options.rows),
      segment: forecast ? `part-${i % 97}` : null,
      period: forecast ? `2026-${String(1 + (i % 12)).padStart(2, "0")}` : null,
      features,
      outputs,
    });
  }
  return rows;
}

const bytes = (a: Float32Array | Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function binInto(hist: Uint32Array, features: Float32Array): void {
  for (let f = 0; f < FEATURES; f++) {
    const v = features[f] as number;
    let b = 0;
    while (b < EDGES.length && v >= (EDGES[b] as number)) b++;
    hist[f * BINS + b] = (hist[f * BINS + b] as number) + 1;
  }
}

function binBlob(hist: Uint32Array, blob: Uint8Array): void {
  binInto(hist, new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength)));
}

interface Result {
  store: string;
  rows_per_s: number;
  ingest_s: number;
  bytes_on_disk: number;
  read_js_s?: number;
  read_sql_s?: number;
  read_sql_per_model_s?: number;
  checksum?: number;
}

/** Seconds spent in `write` (generating the rows is not counted; building a JSON form inside `write` is). */
async function ingest(write: (rows: Row[]) => Promise<void> | void): Promise<number> {
  let writing = 0;
  for (let start = 0; start < options.rows; start += options.batch) {
    const rows = batchRows(start, Math.min(options.batch, options.rows - start));
    const t = performance.now();
    await write(rows);
    writing += performance.now() - t;
  }
  return writing / 1000;
}

const modelNames = Array.from({ length: options.models }, (_, m) => `model-${String(m).padStart(4, "0")}`);
const checksum = (h: Uint32Array) => h.reduce((s, v, i) => s + v * ((i % 7) + 1), 0);

const SQLITE_DDL = `
  create table predictions (
    seq integer primary key, project text not null, model text not null, version integer not null,
    prediction_id text not null, at_ms integer not null, segment text, period text,
    features blob not null, outputs blob not null);
  create unique index predictions_id on predictions (project, prediction_id);
  create index predictions_model_at on predictions (project, model, at_ms);`;

function openSqlite(dir: string, name: string): SQLite.Database {
  const db = new SQLite(join(dir, name));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("cache_size = -65536");
  db.exec(SQLITE_DDL);
  return db;
}

function sqliteParams(r: Row): unknown[] {
  return [
    r.project,
    r.model,
    r.version,
    r.predictionId,
    r.at,
    r.segment,
    r.period,
    bytes(r.features),
    bytes(r.outputs),
  ];
}

function readSqlite(db: SQLite.Database): { seconds: number; sum: number } {
  const stmt = db.prepare(
    "select features from predictions where project = 'default' and model = ? order by at_ms desc limit ?",
  );
  const t = performance.now();
  let sum = 0;
  for (const model of modelNames) {
    const hist = new Uint32Array(FEATURES * BINS);
    for (const row of stmt.iterate(model, options.window) as Iterable<{ features: Buffer }>) {
      binBlob(hist, row.features);
    }
    sum += checksum(hist);
  }
  return { seconds: (performance.now() - t) / 1000, sum };
}

function fileBytes(...paths: string[]): number {
  return paths.reduce((s, p) => {
    try {
      return s + statSync(p).size;
    } catch {
      return s;
    }
  }, 0);
}

async function sqliteKysely(dir: string): Promise<Result> {
  const connection = openSqlite(dir, "kysely.db");
  const cache = new Map<string, SQLite.Statement>();
  const prepare = connection.prepare.bind(connection);
  const cached = new Proxy(connection, {
    get(target, property, receiver) {
      if (property !== "prepare") return Reflect.get(target, property, receiver);
      return (source: string) => {
        const found = cache.get(source);
        if (found) return found;
        const statement = prepare(source);
        cache.set(source, statement);
        return statement;
      };
    },
  });
  // biome-ignore lint/suspicious/noExplicitAny: a bench-local table type
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: cached }) });
  const perStatement = 2048; // 9 parameters a row, under SQLite's 32,766
  const seconds = await ingest(async (rows) => {
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; ) {
        const n = 2 ** Math.floor(Math.log2(Math.min(perStatement, rows.length - i))); // few distinct SQL texts
        const chunk = rows.slice(i, i + n);
        i += n;
        await trx
          .insertInto("predictions")
          .values(
            chunk.map((r) => ({
              project: r.project,
              model: r.model,
              version: r.version,
              prediction_id: r.predictionId,
              at_ms: r.at,
              segment: r.segment,
              period: r.period,
              features: bytes(r.features),
              outputs: bytes(r.outputs),
            })),
          )
          .execute();
      }
    });
  });
  connection.pragma("wal_checkpoint(TRUNCATE)");
  const read = readSqlite(connection);
  await db.destroy();
  return {
    store: "sqlite-kysely",
    rows_per_s: Math.round(options.rows / seconds),
    ingest_s: seconds,
    bytes_on_disk: fileBytes(join(dir, "kysely.db"), join(dir, "kysely.db-wal")),
    read_js_s: read.seconds,
    checksum: read.sum,
  };
}

/**
 * Skala's own design (src/monitoring): the JSON rows through MonitoringService (whole-batch validation,
 * duplicate checks, one transaction per batch) into prediction blocks on SQLite or PostgreSQL, read back
 * with recentPredictions and binned in JS.
 */
async function skala(
  name: string,
  url: string,
  cleanup: () => Promise<void>,
  size: () => Promise<number>,
): Promise<Result> {
  const store = openStore(url);
  try {
    await migrateToLatest(store);
    const at = new Date().toISOString();
    await store.db
      .insertInto("projects")
      .values({ id: "prj_bench", name: "default", description: "", created_at: at })
      .execute();
    for (let i = 0; i < modelNames.length; i += 500) {
      await store.db
        .insertInto("registered_models")
        .values(
          modelNames.slice(i, i + 500).map((name) => ({
            id: `mdl_${name}`,
            project_id: "prj_bench",
            name,
            description: "",
            fleet: null,
            latest_version: 5,
            archived_at: null,
            created_at: at,
            updated_at: at,
          })),
        )
        .execute();
    }
    const monitoring = new MonitoringService({
      store: createKyselyMonitoringStore(store),
      now: () => new Date(T0 + 86_400_000),
      maxClockSkewMs: 86_400_000,
    });
    const iso = (ms: number) => new Date(ms).toISOString();
    const seconds = await ingest(async (rows) => {
      await monitoring.ingestPredictions(
        "default",
        rows.map((r) => ({
          predictionId: r.predictionId,
          model: r.model,
          version: r.version,
          at: iso(r.at),
          ...(r.segment !== null && { segment: r.segment, period: r.period }),
          features: Array.from(r.features),
          outputs: Array.from(r.outputs),
        })),
      );
    });
    const t = performance.now();
    let sum = 0;
    for (const model of modelNames) {
      const hist = new Uint32Array(FEATURES * BINS);
      const window = await monitoring.recentPredictions("default", model, options.window);
      if (window) {
        for (let i = 0; i < window.rows; i++)
          binInto(hist, window.features.subarray(i * FEATURES, (i + 1) * FEATURES));
      }
      sum += checksum(hist);
    }
    const read = (performance.now() - t) / 1000;
    const bytesOnDisk = await size();
    return {
      store: name,
      rows_per_s: Math.round(options.rows / seconds),
      ingest_s: seconds,
      bytes_on_disk: bytesOnDisk,
      read_js_s: read,
      checksum: sum,
    };
  } finally {
    await store.close();
    await cleanup();
  }
}

async function postgresScratch(
  url: string,
): Promise<{ url: string; drop(): Promise<void>; size(): Promise<number> }> {
  const name = `skala_bench_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const target = new URL(url);
  target.pathname = `/${name}`;
  return {
    url: target.toString(),
    async size() {
      const c = new pg.Client({ connectionString: target.toString() });
      await c.connect();
      const r = await c.query<{ size: string }>(
        "select sum(pg_total_relation_size(c.oid))::text as size from pg_class c where relname like 'monitor_%' and relkind = 'r'",
      );
      await c.end();
      return Number(r.rows[0]?.size);
    },
    async drop() {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

async function sqliteStatement(dir: string): Promise<Result> {
  const db = openSqlite(dir, "stmt.db");
  const insert = db.prepare(
    "insert into predictions (project, model, version, prediction_id, at_ms, segment, period, features, outputs) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
  );
  const batch = db.transaction((rows: Row[]) => {
    for (const r of rows) insert.run(...sqliteParams(r));
  });
  const seconds = await ingest((rows) => batch(rows));
  db.pragma("wal_checkpoint(TRUNCATE)");
  const size = fileBytes(join(dir, "stmt.db"), join(dir, "stmt.db-wal"));
  db.close();
  return {
    store: "sqlite-stmt",
    rows_per_s: Math.round(options.rows / seconds),
    ingest_s: seconds,
    bytes_on_disk: size,
  };
}

async function postgres(url: string): Promise<Result> {
  const name = `skala_bench_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const target = new URL(url);
  target.pathname = `/${name}`;
  const client = new pg.Client({ connectionString: target.toString() });
  await client.connect();
  try {
    await client.query(`
      create table predictions (
        seq bigserial primary key, project text not null, model text not null, version integer not null,
        prediction_id text not null, at_ms bigint not null, segment text, period text,
        features bytea not null, outputs bytea not null);
      create unique index predictions_id on predictions (project, prediction_id);
      create index predictions_model_at on predictions (project, model, at_ms);`);
    const seconds = await ingest(async (rows) => {
      await client.query("begin");
      await client.query(
        `insert into predictions (project, model, version, prediction_id, at_ms, segment, period, features, outputs)
         select * from unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::bytea[], $9::bytea[])`,
        [
          rows.map((r) => r.project),
          rows.map((r) => r.model),
          rows.map((r) => r.version),
          rows.map((r) => r.predictionId),
          rows.map((r) => r.at),
          rows.map((r) => r.segment),
          rows.map((r) => r.period),
          rows.map((r) => bytes(r.features)),
          rows.map((r) => bytes(r.outputs)),
        ],
      );
      await client.query("commit");
    });
    await client.query("vacuum analyze predictions");
    const size = await client.query<{ size: string }>(
      "select pg_total_relation_size('predictions')::text as size",
    );
    const t = performance.now();
    let sum = 0;
    for (const model of modelNames) {
      const hist = new Uint32Array(FEATURES * BINS);
      const result = await client.query<{ features: Buffer }>({
        name: "recent",
        text: "select features from predictions where project = 'default' and model = $1 order by at_ms desc limit $2",
        values: [model, options.window],
      });
      for (const row of result.rows) binBlob(hist, row.features);
      sum += checksum(hist);
    }
    return {
      store: "postgres",
      rows_per_s: Math.round(options.rows / seconds),
      ingest_s: seconds,
      bytes_on_disk: Number(size.rows[0]?.size),
      read_js_s: (performance.now() - t) / 1000,
      checksum: sum,
    };
  } finally {
    await client.end();
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

async function duckdb(dir: string): Promise<Result[]> {
  const path = join(dir, "monitor.duckdb");
  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  const featureColumns = Array.from({ length: FEATURES }, (_, f) => `f${f}`);
  await connection.run(`
    create table predictions (
      project varchar not null, model varchar not null, version integer not null, prediction_id varchar not null,
      at_ms bigint not null, segment varchar, period varchar, ${featureColumns.map((c) => `${c} float`).join(", ")},
      o0 double, o1 double, o2 double)`);
  const appender = await connection.createAppender("predictions");
  const seconds = await ingest((rows) => {
    for (const r of rows) {
      appender.appendVarchar(r.project);
      appender.appendVarchar(r.model);
      appender.appendInteger(r.version);
      appender.appendVarchar(r.predictionId);
      appender.appendBigInt(BigInt(r.at));
      if (r.segment === null) appender.appendNull();
      else appender.appendVarchar(r.segment);
      if (r.period === null) appender.appendNull();
      else appender.appendVarchar(r.period);
      for (let f = 0; f < FEATURES; f++) appender.appendFloat(r.features[f] as number);
      for (let o = 0; o < 3; o++) {
        if (o < r.outputs.length) appender.appendDouble(r.outputs[o] as number);
        else appender.appendNull();
      }
      appender.endRow();
    }
    appender.flushSync();
  });
  appender.closeSync();
  await connection.run("checkpoint");
  const parquet = join(dir, "segment.parquet");
  const tp = performance.now();
  await connection.run(`copy predictions to '${parquet}' (format parquet, compression zstd)`);
  const parquetSeconds = (performance.now() - tp) / 1000;

  // Read as rows, bin in JS (per model, like the relational stores).
  const tj = performance.now();
  let sumJs = 0;
  const recent = await connection.prepare(
    `select ${featureColumns.join(", ")} from predictions where project = 'default' and model = $1 order by at_ms desc limit $2`,
  );
  const features = new Float32Array(FEATURES);
  // Per-model reads on DuckDB take long: timed over the first `--duckdb-sample` models, scaled to all.
  const sample = modelNames.slice(0, options.duckdbSample);
  const scale = modelNames.length / sample.length;
  for (const model of sample) {
    recent.bindVarchar(1, model);
    recent.bindInteger(2, options.window);
    const reader = await recent.runAndReadAll();
    const hist = new Uint32Array(FEATURES * BINS);
    for (const row of reader.getRows()) {
      for (let f = 0; f < FEATURES; f++) features[f] = row[f] as number;
      binInto(hist, features);
    }
    sumJs += checksum(hist);
  }
  const readJs = ((performance.now() - tj) / 1000) * scale;

  // Binned in SQL: one query for the whole fleet.
  const binExpr = (c: string) => `(${Array.from(EDGES, (e) => `(${c} >= ${e})::int`).join(" + ")})`;
  const fleetSql = `
    with recent as (
      select * from predictions where project = 'default'
      qualify row_number() over (partition by model order by at_ms desc) <= ${options.window}),
    long as (unpivot recent on ${featureColumns.join(", ")} into name feature value v)
    select model, feature, ${binExpr("v")} as bin, count(*)::integer as n from long group by all`;
  const ts = performance.now();
  const fleet = await connection.runAndReadAll(fleetSql);
  const fleetRows = fleet.getRows();
  const readSql = (performance.now() - ts) / 1000;
  let sumSql = 0;
  {
    const byModel = new Map<string, Uint32Array>();
    for (const [model, feature, bin, n] of fleetRows as [string, string, number, number][]) {
      const h = byModel.get(model) ?? new Uint32Array(FEATURES * BINS);
      byModel.set(model, h);
      h[Number(feature.slice(1)) * BINS + bin] = n;
    }
    for (const h of byModel.values()) sumSql += checksum(h);
  }

  // Binned in SQL, one query per model (what a check evaluating one model at a time would do).
  const perModel = await connection.prepare(`
    with recent as (select ${featureColumns.join(", ")} from predictions
                    where project = 'default' and model = $1 order by at_ms desc limit $2),
    long as (unpivot recent on ${featureColumns.join(", ")} into name feature value v)
    select feature, ${binExpr("v")} as bin, count(*)::integer as n from long group by all`);
  const tm = performance.now();
  for (const model of sample) {
    perModel.bindVarchar(1, model);
    perModel.bindInteger(2, options.window);
    await perModel.runAndReadAll();
  }
  const readSqlPerModel = ((performance.now() - tm) / 1000) * scale;
  connection.closeSync();
  instance.closeSync();
  return [
    {
      store: "duckdb",
      rows_per_s: Math.round(options.rows / seconds),
      ingest_s: seconds,
      bytes_on_disk: fileBytes(path, `${path}.wal`),
      read_js_s: readJs,
      read_sql_s: readSql,
      read_sql_per_model_s: readSqlPerModel,
      ...(sample.length === modelNames.length && { checksum: sumJs === sumSql ? sumJs : -1 }),
    },
    {
      store: "duckdb→parquet",
      rows_per_s: Math.round(options.rows / (seconds + parquetSeconds)),
      ingest_s: seconds + parquetSeconds,
      bytes_on_disk: fileBytes(parquet),
    },
  ];
}

const dir = mkdtempSync(join(tmpdir(), "skala-monitor-bench-"));
const f = (n: number | undefined, d = 2) => (n === undefined ? "—" : n.toFixed(d));
const line = (r: Result) =>
  `| ${r.store} | ${r.rows_per_s.toLocaleString("en")} | ${f(r.ingest_s)} | ${f(r.bytes_on_disk / options.rows, 1)} | ${f(r.read_js_s)} | ${f(r.read_sql_s)} | ${f(r.read_sql_per_model_s)} | ${r.checksum ?? "—"} |`;
/** Each result is printed (to stderr) as soon as it exists, so a run cut short keeps what it measured. */
const results = new Proxy<Result[]>([], {
  set(target, property, value, receiver) {
    if (typeof value === "object" && value !== null && "store" in value) console.error(line(value as Result));
    return Reflect.set(target, property, value, receiver);
  },
});
try {
  console.error(`${options.rows} rows, batches of ${options.batch}, ${options.models} models, in ${dir}`);
  console.error(
    "| store | rows/s | ingest s | bytes/row on disk | read+bin in JS s | bin in SQL (fleet) s | bin in SQL (per model) s | checksum |",
  );
  if (!skip.has("skala-sqlite")) {
    const path = join(dir, "skala.db");
    results.push(
      await skala(
        "skala-sqlite (blocks)",
        `sqlite:${path}`,
        async () => {},
        async () => fileBytes(path, `${path}-wal`),
      ),
    );
  }
  if (!skip.has("skala-postgres") && options.postgres) {
    const scratch = await postgresScratch(options.postgres);
    results.push(
      await skala(
        "skala-postgres (blocks)",
        scratch.url,
        () => scratch.drop(),
        () => scratch.size(),
      ),
    );
  }
  if (!skip.has("sqlite-kysely")) results.push(await sqliteKysely(dir));
  if (!skip.has("sqlite-stmt")) results.push(await sqliteStatement(dir));
  if (!skip.has("postgres") && options.postgres) results.push(await postgres(options.postgres));
  if (!skip.has("duckdb")) results.push(...(await duckdb(dir)));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(
  "| store | rows/s | ingest s | bytes/row on disk | read+bin in JS s | bin in SQL (fleet) s | bin in SQL (per model) s | checksum |",
);
console.log("|---|---|---|---|---|---|---|---|");
for (const r of results) console.log(line(r));
