import type { Kysely, Transaction } from "kysely";
import { type Database, inTransaction, type SqlDialect } from "../store/index.js";
import type { FeedbackRow, IngestCounts, IngestKind, PredictionRow } from "./ingest.types.js";
import type {
  JoinedFeedback,
  MonitoredModel,
  MonitoringStore,
  MonitoringStoreTx,
  PredictionWindow,
  StoredPrediction,
} from "./monitoring-store.js";

/**
 * The monitoring store on the metadata database (SQLite | PostgreSQL, docs/adr/0005-monitoring-store.md):
 * predictions as blocks of packed arrays, one row per model, version and batch; one row per prediction id
 * and per forecast key pointing into its block; ground truth one row per actual.
 */

/** SQLite allows 32,766 bound parameters per statement, PostgreSQL 65,535: the smaller bounds both. */
const MAX_PARAMETERS = 32_766;
/** Values per IN list: well under both limits, and a handful of distinct SQL texts for SQLite's cache. */
const IN_CHUNK = 512;

function floorPowerOfTwo(n: number): number {
  return 2 ** Math.floor(Math.log2(n));
}

/** Power-of-two chunks within the parameter limit, so the statement cache sees few SQL texts. */
function chunks<T>(items: readonly T[], columns: number): T[][] {
  const most = floorPowerOfTwo(Math.floor(MAX_PARAMETERS / columns));
  const out: T[][] = [];
  for (let start = 0; start < items.length; ) {
    const count = floorPowerOfTwo(Math.min(most, items.length - start));
    out.push(items.slice(start, start + count));
    start += count;
  }
  return out;
}

/** Fixed-size IN lists (the last padded by repeating its first item), so the SQL texts stay few. */
function inChunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += IN_CHUNK) {
    const chunk = items.slice(start, start + IN_CHUNK);
    const size = chunk.length <= 8 ? 8 : 2 ** Math.ceil(Math.log2(chunk.length));
    while (chunk.length < size) chunk.push(chunk[0] as T);
    out.push(chunk);
  }
  return out;
}

const bytes = (array: Float32Array | Float64Array): Uint8Array =>
  Buffer.from(array.buffer, array.byteOffset, array.byteLength);

function float64(blob: Uint8Array): Float64Array {
  const copy = new Uint8Array(blob.byteLength);
  copy.set(blob);
  return new Float64Array(copy.buffer);
}

function float32(blob: Uint8Array): Float32Array {
  const copy = new Uint8Array(blob.byteLength);
  copy.set(blob);
  return new Float32Array(copy.buffer);
}

const idKey = (modelKey: number, id: string) => `${modelKey}\n${id}`;
const forecastKey = (modelKey: number, segment: string, period: string) =>
  `${modelKey}\n${segment}\n${period}`;

class KyselyMonitoringTx implements MonitoringStoreTx {
  constructor(
    private readonly trx: Transaction<Database>,
    private readonly dialect: SqlDialect,
  ) {}

  lock(project: string): Promise<void> {
    return this.dialect.lockKey(this.trx, `monitoring-ingest:${project}`);
  }

  async projectExists(project: string): Promise<boolean> {
    const row = await this.trx
      .selectFrom("projects")
      .select("id")
      .where("name", "=", project)
      .executeTakeFirst();
    return row !== undefined;
  }

  async registeredModels(project: string, models: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (const chunk of inChunks(models)) {
      const rows = await this.trx
        .selectFrom("registered_models as m")
        .innerJoin("projects as p", "p.id", "m.project_id")
        .select("m.name")
        .where("p.name", "=", project)
        .where("m.name", "in", chunk)
        .execute();
      for (const row of rows) found.add(row.name);
    }
    return found;
  }

  async monitoredModels(
    project: string,
    models: readonly string[],
    create: boolean,
  ): Promise<Map<string, MonitoredModel>> {
    const found = new Map<string, MonitoredModel>();
    const read = async (names: readonly string[]) => {
      for (const chunk of inChunks(names)) {
        const rows = await this.trx
          .selectFrom("monitor_models")
          .select(["seq", "model", "features", "outputs"])
          .where("project", "=", project)
          .where("model", "in", chunk)
          .execute();
        for (const row of rows) {
          found.set(row.model, { key: Number(row.seq), features: row.features, outputs: row.outputs });
        }
      }
    };
    await read(models);
    const missing = models.filter((m) => !found.has(m));
    if (create && missing.length > 0) {
      const createdAt = new Date().toISOString();
      for (const chunk of chunks(missing, 3)) {
        await this.trx
          .insertInto("monitor_models")
          .values(
            chunk.map((model) => ({ project, model, features: null, outputs: null, created_at: createdAt })),
          )
          .execute();
      }
      await read(missing);
    }
    return found;
  }

  async setShape(modelKey: number, features: number, outputs: number): Promise<void> {
    await this.trx
      .updateTable("monitor_models")
      .set({ features, outputs })
      .where("seq", "=", modelKey)
      .execute();
  }

  async predictionsById(
    pairs: ReadonlyArray<readonly [number, string]>,
  ): Promise<Map<string, StoredPrediction>> {
    const wanted = new Set(pairs.map(([key, id]) => idKey(key, id)));
    const found = new Map<string, StoredPrediction>();
    for (const chunk of inChunks([...new Set(pairs.map(([, id]) => id))])) {
      const rows = await this.trx
        .selectFrom("monitor_prediction_ids")
        .select(["prediction_id", "model_key", "block_seq", "row", "at_ms"])
        .where("prediction_id", "in", chunk)
        .execute();
      for (const row of rows) {
        const key = idKey(Number(row.model_key), row.prediction_id);
        if (wanted.has(key)) {
          found.set(key, { blockSeq: Number(row.block_seq), row: row.row, atMs: Number(row.at_ms) });
        }
      }
    }
    return found;
  }

  async forecastKeys(triples: ReadonlyArray<readonly [number, string, string]>): Promise<Set<string>> {
    const found = new Set<string>();
    for (const chunk of inChunks(triples)) {
      const rows = await this.trx
        .selectFrom("monitor_forecast_keys")
        .select(["model_key", "segment", "period"])
        .distinct()
        .where((eb) =>
          eb(
            eb.refTuple("model_key", "segment", "period"),
            "in",
            chunk.map(([key, segment, period]) => eb.tuple(key, segment, period)),
          ),
        )
        .execute();
      for (const row of rows) found.add(forecastKey(Number(row.model_key), row.segment, row.period));
    }
    return found;
  }

  async feedbackRevisions(
    byId: ReadonlyArray<readonly [number, string]>,
    byForecast: ReadonlyArray<readonly [number, string, string]>,
  ): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    const wanted = new Set(byId.map(([key, id]) => idKey(key, id)));
    for (const chunk of inChunks([...new Set(byId.map(([, id]) => id))])) {
      const rows = await this.trx
        .selectFrom("monitor_feedback")
        .select(["model_key", "prediction_id", (eb) => eb.fn.max("revision").as("revision")])
        .where("prediction_id", "in", chunk)
        .groupBy(["prediction_id", "model_key"])
        .execute();
      for (const row of rows) {
        const key = idKey(Number(row.model_key), row.prediction_id as string);
        if (wanted.has(key)) found.set(key, Number(row.revision));
      }
    }
    for (const chunk of inChunks(byForecast)) {
      const rows = await this.trx
        .selectFrom("monitor_feedback")
        .select(["model_key", "segment", "period", (eb) => eb.fn.max("revision").as("revision")])
        .where((eb) =>
          eb(
            eb.refTuple("model_key", "segment", "period"),
            "in",
            chunk.map(([key, segment, period]) => eb.tuple(key, segment, period)),
          ),
        )
        .groupBy(["model_key", "segment", "period"])
        .execute();
      for (const row of rows) {
        found.set(
          forecastKey(Number(row.model_key), row.segment as string, row.period as string),
          Number(row.revision),
        );
      }
    }
    return found;
  }

  async insertPredictions(
    rows: ReadonlyArray<PredictionRow & { modelKey: number }>,
    receivedAt: Date,
  ): Promise<void> {
    // One block per model and version: the batch's rows of it, in batch order.
    const groups = new Map<string, Array<PredictionRow & { modelKey: number }>>();
    for (const row of rows) {
      const key = `${row.modelKey}:${row.version}`;
      const group = groups.get(key);
      if (group) group.push(row);
      else groups.set(key, [row]);
    }
    const received = receivedAt.toISOString();
    const blocks = [...groups.values()].map((group) => {
      const first = group[0] as PredictionRow & { modelKey: number };
      const k = first.features.length;
      const m = first.outputs.length;
      const at = new Float64Array(group.length);
      const features = new Float32Array(group.length * k);
      const outputs = new Float64Array(group.length * m);
      let first_at_ms = Number.POSITIVE_INFINITY;
      let last_at_ms = Number.NEGATIVE_INFINITY;
      let anySegment = false;
      group.forEach((row, i) => {
        at[i] = row.atMs;
        first_at_ms = Math.min(first_at_ms, row.atMs);
        last_at_ms = Math.max(last_at_ms, row.atMs);
        features.set(row.features, i * k);
        outputs.set(row.outputs, i * m);
        if (row.segment !== null) anySegment = true;
      });
      return {
        group,
        values: {
          model_key: first.modelKey,
          version: first.version,
          rows: group.length,
          first_at_ms,
          last_at_ms,
          prediction_ids: group.map((r) => r.predictionId).join("\n"),
          segments: anySegment
            ? JSON.stringify(group.map((r) => (r.segment === null ? null : [r.segment, r.period])))
            : null,
          at_ms: bytes(at),
          features: bytes(features),
          outputs: bytes(outputs),
          received_at: received,
        },
      };
    });
    // (model_key, version) is unique within the batch: it maps each returned seq back to its block.
    const seqs = new Map<string, number>();
    for (const chunk of chunks(blocks, 11)) {
      const inserted = await this.trx
        .insertInto("monitor_prediction_blocks")
        .values(chunk.map((b) => b.values))
        .returning(["seq", "model_key", "version"])
        .execute();
      for (const row of inserted) seqs.set(`${row.model_key}:${row.version}`, Number(row.seq));
    }
    const ids: Database["monitor_prediction_ids"][] = [];
    const forecasts: Database["monitor_forecast_keys"][] = [];
    for (const block of blocks) {
      const seq = seqs.get(`${block.values.model_key}:${block.values.version}`) as number;
      block.group.forEach((row, i) => {
        ids.push({
          prediction_id: row.predictionId,
          model_key: row.modelKey,
          block_seq: seq,
          row: i,
          at_ms: row.atMs,
        });
        if (row.segment !== null && row.period !== null) {
          forecasts.push({
            model_key: row.modelKey,
            segment: row.segment,
            period: row.period,
            block_seq: seq,
            row: i,
          });
        }
      });
    }
    for (const chunk of chunks(ids, 5))
      await this.trx.insertInto("monitor_prediction_ids").values(chunk).execute();
    for (const chunk of chunks(forecasts, 5)) {
      await this.trx.insertInto("monitor_forecast_keys").values(chunk).execute();
    }
  }

  async insertFeedback(
    rows: ReadonlyArray<FeedbackRow & { modelKey: number; prediction: StoredPrediction | null }>,
    receivedAt: Date,
  ): Promise<void> {
    const received = receivedAt.toISOString();
    const values = rows.map((row) => ({
      model_key: row.modelKey,
      prediction_id: row.predictionId,
      segment: row.segment,
      period: row.period,
      block_seq: row.prediction?.blockSeq ?? null,
      row: row.prediction?.row ?? null,
      revision: row.revision,
      actual: bytes(Float64Array.from(row.actual)),
      at_ms: row.atMs,
      received_at: received,
    }));
    for (const chunk of chunks(values, 10))
      await this.trx.insertInto("monitor_feedback").values(chunk).execute();
  }

  addCounts(project: string, kind: IngestKind, counts: Readonly<Record<string, number>>): Promise<void> {
    return addCounts(this.trx, project, kind, counts);
  }
}

async function addCounts(
  db: Kysely<Database> | Transaction<Database>,
  project: string,
  kind: IngestKind,
  counts: Readonly<Record<string, number>>,
): Promise<void> {
  const values = Object.entries(counts)
    .filter(([, count]) => count > 0)
    .map(([reason, count]) => ({ project, kind, reason, count }));
  if (values.length === 0) return;
  await db
    .insertInto("monitor_ingest_counts")
    .values(values)
    .onConflict((oc) =>
      oc.columns(["project", "kind", "reason"]).doUpdateSet({
        count: (eb) => eb("monitor_ingest_counts.count", "+", eb.ref("excluded.count")),
      }),
    )
    .execute();
}

interface Block {
  seq: number;
  version: number;
  rows: number;
  prediction_ids: string;
  segments: string | null;
  at_ms: Uint8Array;
  features: Uint8Array;
  outputs: Uint8Array;
}

/** Rows deleted per statement in `prune`, so a large backlog never holds the database for long. */
const PRUNE_CHUNK = 500;

/**
 * The Kysely adapter of MonitoringStore. `readDb` serves the reads of checks (docs/adr/0004); every write
 * and the ingestion's own checks run on `db` in one transaction.
 */
export function createKyselyMonitoringStore(store: {
  db: Kysely<Database>;
  readDb?: Kysely<Database>;
  sqlDialect: SqlDialect;
}): MonitoringStore {
  const { db, sqlDialect } = store;
  const readDb = store.readDb ?? db;

  async function modelOf(project: string, model: string) {
    return readDb
      .selectFrom("monitor_models")
      .select(["seq", "features", "outputs"])
      .where("project", "=", project)
      .where("model", "=", model)
      .executeTakeFirst();
  }

  return {
    transaction: (work) => inTransaction(db, (trx) => work(new KyselyMonitoringTx(trx, sqlDialect))),
    addCounts: (project, kind, counts) => addCounts(db, project, kind, counts),

    async counts(project) {
      const rows = await readDb
        .selectFrom("monitor_ingest_counts")
        .select(["kind", "reason", "count"])
        .where("project", "=", project)
        .execute();
      const counts: IngestCounts = { predictions: {}, feedback: {} };
      for (const row of rows) {
        const kind = row.kind === "feedback" ? counts.feedback : counts.predictions;
        kind[row.reason] = Number(row.count);
      }
      return counts;
    },

    async recentPredictions(project, model, limit) {
      const found = await modelOf(project, model);
      if (!found || found.features === null || found.outputs === null) return null;
      const k = found.features;
      const m = found.outputs;
      const blocks: Block[] = [];
      let rows = 0;
      // Blocks newest first until `limit` rows are covered; rows are then ordered by time across them.
      const query = readDb
        .selectFrom("monitor_prediction_blocks")
        .select(["seq", "version", "rows", "prediction_ids", "segments", "at_ms", "features", "outputs"])
        .where("model_key", "=", Number(found.seq))
        .orderBy("last_at_ms", "desc")
        .orderBy("seq", "desc");
      for (let offset = 0; rows < limit; offset += 64) {
        const page = (await query.limit(64).offset(offset).execute()) as Block[];
        for (const block of page) {
          blocks.push(block);
          rows += block.rows;
        }
        if (page.length < 64) break;
      }
      const all: Array<{ block: Block; i: number; at: number }> = [];
      const decoded = blocks.map((block) => ({
        block,
        at: float64(block.at_ms),
        features: float32(block.features),
        outputs: float64(block.outputs),
        ids: block.prediction_ids.split("\n"),
        segments:
          block.segments === null ? null : (JSON.parse(block.segments) as Array<[string, string] | null>),
      }));
      decoded.forEach((d) => {
        for (let i = 0; i < d.block.rows; i++) all.push({ block: d.block, i, at: d.at[i] as number });
      });
      const index = new Map(decoded.map((d) => [d.block, d]));
      all.sort((a, b) => b.at - a.at || b.block.seq - a.block.seq || b.i - a.i);
      const n = Math.min(limit, all.length);
      const window: PredictionWindow = {
        rows: n,
        featureCount: k,
        outputCount: m,
        predictionIds: [],
        versions: new Int32Array(n),
        atMs: new Float64Array(n),
        features: new Float32Array(n * k),
        outputs: new Float64Array(n * m),
        segments: [],
      };
      for (let j = 0; j < n; j++) {
        const { block, i, at } = all[j] as { block: Block; i: number; at: number };
        const d = index.get(block) as (typeof decoded)[number];
        window.predictionIds.push(d.ids[i] as string);
        window.versions[j] = block.version;
        window.atMs[j] = at;
        window.features.set(d.features.subarray(i * k, (i + 1) * k), j * k);
        window.outputs.set(d.outputs.subarray(i * m, (i + 1) * m), j * m);
        window.segments.push(d.segments?.[i] ?? null);
      }
      return window;
    },

    async joinedFeedback(project, model, limit) {
      const found = await modelOf(project, model);
      if (!found || found.outputs === null) return [];
      const m = found.outputs;
      const key = Number(found.seq);
      const rows = await readDb
        .selectFrom("monitor_feedback")
        .selectAll()
        .where("model_key", "=", key)
        .orderBy("at_ms", "asc")
        .orderBy("seq", "asc")
        .execute();
      // The latest revision of each key.
      const latest = new Map<string, (typeof rows)[number]>();
      for (const row of rows) {
        const k = row.prediction_id !== null ? `i\n${row.prediction_id}` : `f\n${row.segment}\n${row.period}`;
        const seen = latest.get(k);
        if (!seen || seen.revision < row.revision) latest.set(k, row);
      }
      const chosen = [...latest.values()].sort((a, b) => Number(a.at_ms) - Number(b.at_ms) || a.seq - b.seq);
      const selected = chosen.slice(0, limit);
      // Forecasts join the latest forecast of their segment and period.
      const forecastRows = new Map<string, { block_seq: number; row: number }>();
      const triples = selected
        .filter((r) => r.prediction_id === null)
        .map((r) => [key, r.segment as string, r.period as string] as const);
      for (const chunk of inChunks(triples)) {
        const keys = await readDb
          .selectFrom("monitor_forecast_keys")
          .select(["segment", "period", "block_seq", "row"])
          .where((eb) =>
            eb(
              eb.refTuple("model_key", "segment", "period"),
              "in",
              chunk.map(([k, s, p]) => eb.tuple(k, s, p)),
            ),
          )
          .execute();
        for (const row of keys) {
          const k = `${row.segment}\n${row.period}`;
          const seen = forecastRows.get(k);
          if (!seen || seen.block_seq < Number(row.block_seq)) {
            forecastRows.set(k, { block_seq: Number(row.block_seq), row: row.row });
          }
        }
      }
      const where = (r: (typeof selected)[number]) =>
        r.block_seq !== null
          ? { block_seq: Number(r.block_seq), row: r.row as number }
          : forecastRows.get(`${r.segment}\n${r.period}`);
      const blockSeqs = [...new Set(selected.map((r) => where(r)?.block_seq).filter((s) => s !== undefined))];
      const blocks = new Map<number, { version: number; at: Float64Array; outputs: Float64Array }>();
      for (const chunk of inChunks(blockSeqs)) {
        const found = await readDb
          .selectFrom("monitor_prediction_blocks")
          .select(["seq", "version", "at_ms", "outputs"])
          .where("seq", "in", chunk)
          .execute();
        for (const b of found) {
          blocks.set(Number(b.seq), {
            version: b.version,
            at: float64(b.at_ms),
            outputs: float64(b.outputs),
          });
        }
      }
      const joined: JoinedFeedback[] = [];
      for (const r of selected) {
        const at = where(r);
        const block = at && blocks.get(at.block_seq);
        if (!at || !block) continue; // its prediction was pruned meanwhile
        joined.push({
          predictionId: r.prediction_id,
          segment: r.segment,
          period: r.period,
          revision: r.revision,
          actual: [...float64(r.actual)],
          atMs: Number(r.at_ms),
          version: block.version,
          predictedAtMs: block.at[at.row] as number,
          outputs: [...block.outputs.subarray(at.row * m, (at.row + 1) * m)],
        });
      }
      return joined;
    },

    async prune(before) {
      const cutoff = before.getTime();
      let total = 0;
      // Blocks whose newest prediction is older than the cutoff; their id rows, forecast keys and feedback go
      // with them (ON DELETE CASCADE).
      for (;;) {
        const result = await db
          .deleteFrom("monitor_prediction_blocks")
          .where("seq", "in", (eb) =>
            eb
              .selectFrom("monitor_prediction_blocks")
              .select("seq")
              .where("last_at_ms", "<", cutoff)
              .limit(PRUNE_CHUNK),
          )
          .executeTakeFirst();
        const deleted = Number(result.numDeletedRows);
        total += deleted;
        if (deleted < PRUNE_CHUNK) break;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      await db
        .deleteFrom("monitor_feedback")
        .where("at_ms", "<", cutoff)
        .where("block_seq", "is", null)
        .execute();
      return total;
    },
  };
}
