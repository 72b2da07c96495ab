import type { Kysely } from "kysely";
import { type Database, literalLimit } from "../store/index.js";
import type { PredictionSink } from "./prediction-logger.js";
import type { LoggedTensors, PredictionLogRow } from "./prediction-record.js";

/** Bound parameters per row of `prediction_log` (every column but `seq`). */
const COLUMNS = 11;
/** SQLite allows 32,766 bound parameters per statement, PostgreSQL 65,535: the smaller bounds both. */
const MAX_PARAMETERS = 32_766;
/** About this much inputs/outputs text per statement at most (a batch of large payloads is split further). */
const MAX_STATEMENT_CHARS = 16 * 1024 * 1024;

function floorPowerOfTwo(n: number): number {
  return 2 ** Math.floor(Math.log2(n));
}

const MAX_ROWS_PER_STATEMENT = floorPowerOfTwo(Math.floor(MAX_PARAMETERS / COLUMNS));

function payloadChars(rows: readonly PredictionLogRow[], start: number, count: number): number {
  let chars = 0;
  for (let i = start; i < start + count; i++) {
    const row = rows[i] as PredictionLogRow;
    chars += row.inputs.length + (row.outputs?.length ?? 0);
  }
  return chars;
}

/**
 * Splits a batch into multi-row INSERTs of power-of-two sizes, within the parameter limit and about
 * MAX_STATEMENT_CHARS of payload. Powers of two keep the number of distinct SQL texts small (at most a dozen),
 * so SQLite's prepared-statement cache (src/store/database.ts) is not flooded with one text per batch size.
 */
export function statementChunks(rows: readonly PredictionLogRow[]): PredictionLogRow[][] {
  const chunks: PredictionLogRow[][] = [];
  let start = 0;
  while (start < rows.length) {
    let count = floorPowerOfTwo(Math.min(rows.length - start, MAX_ROWS_PER_STATEMENT));
    while (count > 1 && payloadChars(rows, start, count) > MAX_STATEMENT_CHARS) count >>= 1;
    chunks.push(rows.slice(start, start + count));
    start += count;
  }
  return chunks;
}

/**
 * The store's prediction sink: a batch is one multi-row INSERT, or several in one transaction when it has to
 * be split, so a retried batch is never half written.
 */
export function createStorePredictionSink(db: Kysely<Database>): PredictionSink {
  return {
    async write(rows) {
      const chunks = statementChunks(rows);
      const [only] = chunks;
      if (only === undefined) return;
      if (chunks.length === 1) {
        await db.insertInto("prediction_log").values(only).execute();
        return;
      }
      await db.transaction().execute(async (trx) => {
        for (const chunk of chunks) await trx.insertInto("prediction_log").values(chunk).execute();
      });
    },
  };
}

/** A logged prediction as read back. */
export interface LoggedPrediction {
  seq: number;
  project: string;
  model: string;
  version: number;
  versionId: string;
  route: string;
  requestId: string | null;
  inputs: LoggedTensors;
  /** null when the prediction failed. */
  outputs: LoggedTensors | null;
  error: string | null;
  latencyMs: number;
  at: Date;
}

export interface ListPredictionsQuery {
  project: string;
  model: string;
  /** Only predictions made at or after this instant. */
  since?: Date;
  limit: number;
  /** By time of prediction, then write order; default "asc" (oldest first, from `since`). */
  order?: "asc" | "desc";
}

/** Reads a model's logged predictions, with inputs and outputs parsed (served by prediction_log_model_time). */
export async function listPredictions(
  db: Kysely<Database>,
  query: ListPredictionsQuery,
): Promise<LoggedPrediction[]> {
  const order = query.order ?? "asc";
  let select = db
    .selectFrom("prediction_log")
    .selectAll()
    .where("project", "=", query.project)
    .where("model", "=", query.model);
  if (query.since !== undefined) select = select.where("created_at", ">=", query.since.toISOString());
  const rows = await select
    .orderBy("created_at", order)
    .orderBy("seq", order)
    .limit(literalLimit(query.limit))
    .execute();
  return rows.map((row) => ({
    seq: row.seq,
    project: row.project,
    model: row.model,
    version: row.version,
    versionId: row.version_id,
    route: row.route,
    requestId: row.request_id,
    inputs: JSON.parse(row.inputs) as LoggedTensors,
    outputs: row.outputs === null ? null : (JSON.parse(row.outputs) as LoggedTensors),
    error: row.error,
    latencyMs: row.latency_ms,
    at: new Date(row.created_at),
  }));
}

/** Rows deleted per statement, so a large backlog never holds the database (or SQLite's writer) for long. */
const PRUNE_CHUNK = 5_000;

/**
 * Deletes predictions recorded before `before`, oldest first, in chunks, yielding to the event loop between
 * them. Returns how many rows went.
 */
export async function prunePredictions(db: Kysely<Database>, before: Date): Promise<number> {
  const cutoff = before.toISOString();
  let total = 0;
  for (;;) {
    const result = await db
      .deleteFrom("prediction_log")
      .where("seq", "in", (eb) =>
        eb.selectFrom("prediction_log").select("seq").where("created_at", "<", cutoff).limit(PRUNE_CHUNK),
      )
      .executeTakeFirst();
    const deleted = Number(result.numDeletedRows);
    total += deleted;
    if (deleted < PRUNE_CHUNK) return total;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * Runs `prunePredictions` now and every `intervalMs` (timer unref'd) with a cutoff of `retentionDays` ago; 0
 * days keeps everything. Returns a stop function that waits for a prune in progress.
 */
export function schedulePredictionPruning(options: {
  db: Kysely<Database>;
  retentionDays: number;
  intervalMs?: number;
  now?: () => Date;
  onPruned?: (deleted: number) => void;
  onError?: (error: unknown) => void;
}): () => Promise<void> {
  if (options.retentionDays <= 0) return async () => {};
  const now = options.now ?? (() => new Date());
  let running: Promise<void> = Promise.resolve();
  const prune = () => {
    running = running.then(async () => {
      try {
        const before = new Date(now().getTime() - options.retentionDays * 86_400_000);
        const deleted = await prunePredictions(options.db, before);
        if (deleted > 0) options.onPruned?.(deleted);
      } catch (error) {
        options.onError?.(error);
      }
    });
  };
  prune();
  const timer = setInterval(prune, options.intervalMs ?? 3_600_000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
