import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { parse } from "csv-parse";
import type { Digest } from "../artifacts/index.js";
import {
  type Clock,
  csvErrorMessage,
  type Datatype,
  INTEGER_DATATYPES,
  isSkalaError,
} from "../core/index.js";
import { type JobContext, PermanentJobError } from "../jobs/index.js";
import type { Registry } from "../registry/index.js";
import type { InferenceService } from "../serving/index.js";
import { type InferResponseBody, isProtocolError } from "../serving/index.js";
import { type Executor, inTransaction } from "../store/index.js";
import { outputColumnNames } from "./column-plan.js";
import type { InvalidRow, ScorePayload, ScoreProgress, ScoreResult } from "./scoring.types.js";

export interface ScoreRunnerDeps {
  /** The job's registry run and its output are recorded in one transaction on it. */
  db: Executor;
  registry: Registry;
  inference: Pick<InferenceService, "infer">;
  clock: Clock;
  /** Where the output is written before it is stored; the system's temporary directory by default. */
  tmpDir?: string;
  /** Least time between two progress reports, in ms. Default 500. */
  progressIntervalMs?: number;
}

/** The artifact name of the output on the job's registry run. */
export const OUTPUT_ARTIFACT = "scores.csv";
/** Skipped rows remembered in the result, for the user to look at. */
const MAX_INVALID_EXAMPLES = 10;

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A cell's number, or why it is not one. */
function parseCell(raw: string, datatype: Datatype): number | string {
  const text = raw.trim();
  if (text === "" || text === "NA") return "missing value";
  if (!NUMBER.test(text)) return "not a number";
  const value = Number(text);
  if (!Number.isFinite(value)) return "out of range";
  if (INTEGER_DATATYPES.has(datatype)) {
    if (!Number.isInteger(value)) return `not an integer (the input is ${datatype})`;
    if (datatype.startsWith("U") && value < 0) return `negative (the input is ${datatype})`;
  }
  return value;
}

/** RFC 4180 quoting, only where needed. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** CSV records of a stream with the file line each ends on; the reader stops feeding when the consumer stops. */
async function* csvRecords(
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<{ record: string[]; line: number }> {
  // The same reading rules as the profiler (registry's profileCsv), so the profiled columns are the ones read.
  const parser = parse({
    bom: true,
    relax_column_count: false,
    skip_empty_lines: true,
    max_record_size: 16 * 1024 * 1024,
    info: true,
  });
  const feeding = (async () => {
    try {
      for await (const chunk of source) {
        if (parser.destroyed) return;
        if (!parser.write(chunk)) {
          await new Promise((resolve) => {
            parser.once("drain", resolve);
            parser.once("close", resolve);
          });
        }
      }
      parser.end();
    } catch (error) {
      parser.destroy(error as Error);
    }
  })();
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: string[];
      info: { lines: number };
    }>) {
      yield { record, line: info.lines };
    }
  } catch (error) {
    if (error instanceof PermanentJobError) throw error;
    const info = error as { lines?: number };
    throw new PermanentJobError(`line ${info.lines ?? "?"}: ${csvErrorMessage(error)}`, {
      cause: error,
    });
  } finally {
    if (!parser.destroyed) parser.destroy();
    await feeding;
  }
}

/** Writes text with backpressure; a write error surfaces at the next write or at close. */
class FileWriter {
  private readonly stream: WriteStream;
  private failure: Error | undefined;

  constructor(readonly path: string) {
    this.stream = createWriteStream(path, { flags: "wx" });
    this.stream.on("error", (error) => {
      this.failure = error;
    });
  }

  async write(text: string): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.stream.write(text)) {
      await new Promise<void>((resolve) => {
        this.stream.once("drain", () => resolve());
        this.stream.once("close", () => resolve());
      });
    }
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    this.stream.end();
    await finished(this.stream);
    if (this.failure) throw this.failure;
  }

  destroy(): void {
    this.stream.destroy();
  }
}

/**
 * An error of the scoring itself, sorted into what a retry may fix (a model not ready, an overloaded server,
 * the database) and what it cannot (the model refuses the data, the version is gone, the file is too large).
 */
function classify(error: unknown, where: string): unknown {
  if (error instanceof PermanentJobError) return error;
  if (isProtocolError(error)) {
    if (error.code === "INFER_REQUEST_INVALID") {
      return new PermanentJobError(`${where}: the model refused the batch: ${error.message}`, {
        cause: error,
      });
    }
    return new Error(`${where}: ${error.message}`, { cause: error });
  }
  if (isSkalaError(error)) {
    switch (error.code) {
      case "VALIDATION_FAILED":
      case "DATASET_INVALID":
      case "ARTIFACT_TOO_LARGE":
      case "ARTIFACT_NOT_FOUND":
      case "VERSION_NOT_FOUND":
      case "ALIAS_NOT_FOUND":
      case "MODEL_NOT_FOUND":
      case "PROJECT_NOT_FOUND":
      case "MODEL_LOAD_FAILED":
        return new PermanentJobError(`${where}: ${error.message}`, { cause: error });
      default:
        return error;
    }
  }
  return error;
}

interface Batch {
  /** Flat row-major values per input. */
  values: number[][];
  passthrough: string[][];
  firstLine: number;
  lastLine: number;
  rows: number;
}

/**
 * The job's registry run, holding its output: one per job (`sourceRef: scoring:<job id>`), created, given the
 * output and finished in the caller's transaction. An attempt that dies before the commit leaves no run; one
 * that dies after it (before the job completed) leaves a finished run, which the next attempt returns as it is,
 * with the output the earlier attempt published.
 */
async function recordRun(
  registry: Registry,
  trx: Executor,
  jobId: string,
  payload: ScorePayload,
  stored: { digest: string },
  rows: { rows: number; skipped: number },
) {
  const { run } = await registry.runs.ensure(
    payload.project,
    {
      name: `score ${payload.model}:${payload.version} on ${payload.dataset}:${payload.datasetVersion}`.slice(
        0,
        200,
      ),
      params: {
        scoring_job: jobId,
        model: payload.model,
        version: String(payload.version),
        dataset: payload.dataset,
        dataset_version: String(payload.datasetVersion),
        rows: String(rows.rows),
        rows_skipped: String(rows.skipped),
      },
      sourceRef: `scoring:${jobId}`,
    },
    trx,
  );
  if (run.status !== "running") return run;
  await registry.runs.attachArtifact(
    payload.project,
    run.id,
    { name: OUTPUT_ARTIFACT, digest: stored.digest },
    trx,
  );
  return registry.runs.finish(payload.project, run.id, "finished", trx);
}

/**
 * Runs one batch scoring job: streams the dataset's CSV (never the whole file in memory), sends `batchRows`
 * rows per infer request to the version resolved at submit, writes the output CSV to a temporary file, and
 * only at the end stores it (content-addressed) and records it on a registry run. A retried attempt starts
 * over, and a crash never publishes a partial file.
 */
export async function runScoringJob(
  jobId: string,
  payload: ScorePayload,
  context: JobContext,
  deps: ScoreRunnerDeps,
): Promise<ScoreResult> {
  const { signal } = context;
  const startedAt = deps.clock.now().toISOString();
  const interval = deps.progressIntervalMs ?? 500;
  let rowsDone = 0;
  let rowsSkipped = 0;
  let rowsWritten = 0;
  const invalidRows: InvalidRow[] = [];
  let lastReport = Number.NEGATIVE_INFINITY;

  const report = async (force: boolean) => {
    const now = performance.now();
    if (!force && now - lastReport < interval) return;
    lastReport = now;
    const progress: ScoreProgress = { rowsDone, rowsSkipped, startedAt, at: deps.clock.now().toISOString() };
    // False when the job was cancelled or reclaimed: the signal has fired, and the next check stops the job.
    await context.progress(progress);
  };

  const path = join(
    deps.tmpDir ?? tmpdir(),
    `skala-score-${jobId.replace(/[^A-Za-z0-9_-]/g, "_")}-${randomBytes(4).toString("hex")}.csv`,
  );
  const writer = new FileWriter(path);
  const widths = new Map<string, number>();
  for (const output of payload.outputs) if (output.width !== null) widths.set(output.name, output.width);
  let headerWritten = false;

  const writeHeader = async () => {
    const names = [...payload.passthrough];
    for (const output of payload.outputs)
      names.push(...outputColumnNames(output, widths.get(output.name) ?? 1));
    const duplicate = names.find((name, i) => names.indexOf(name) !== i);
    if (duplicate !== undefined) {
      throw new PermanentJobError(`the output file would have two columns "${duplicate}"`);
    }
    await writer.write(`${names.map(csvField).join(",")}\n`);
    headerWritten = true;
  };

  const newBatch = (): Batch => ({
    values: payload.inputs.map(() => []),
    passthrough: [],
    firstLine: 0,
    lastLine: 0,
    rows: 0,
  });

  const flush = async (batch: Batch) => {
    if (batch.rows === 0) return;
    const where = `lines ${batch.firstLine}–${batch.lastLine}`;
    const n = batch.rows;
    const body = {
      inputs: payload.inputs.map((input, k) => ({
        name: input.name,
        datatype: input.datatype,
        shape: [n, ...input.rowShape],
        data: batch.values[k] as number[],
      })),
    };
    let response: InferResponseBody;
    try {
      // The version number resolved at submit, never an alias: one version scores the whole file.
      response = await deps.inference.infer(payload.model, String(payload.version), body);
    } catch (error) {
      throw classify(error, where);
    }
    const columns: Array<{ data: ReadonlyArray<number | string | boolean>; width: number }> = [];
    for (const output of payload.outputs) {
      const tensor = response.outputs.find((o) => o.name === output.name);
      if (tensor === undefined)
        throw new PermanentJobError(`${where}: the model answered without output "${output.name}"`);
      if (tensor.shape[0] !== n || tensor.data.length % n !== 0) {
        throw new PermanentJobError(
          `${where}: output "${output.name}" has shape ${JSON.stringify(tensor.shape)} for a batch of ${n} rows`,
        );
      }
      const width = tensor.data.length / n;
      const known = widths.get(output.name);
      if (known === undefined && !headerWritten) widths.set(output.name, width);
      else if ((known ?? 1) !== width) {
        throw new PermanentJobError(
          `${where}: output "${output.name}" has ${width} elements per row, earlier batches had ${known ?? 1}`,
        );
      }
      columns.push({ data: tensor.data, width });
    }
    if (!headerWritten) await writeHeader();
    let text = "";
    for (let row = 0; row < n; row++) {
      const cells = (batch.passthrough[row] as string[]).map(csvField);
      for (const { data, width } of columns) {
        for (let i = row * width; i < (row + 1) * width; i++) {
          const value = data[i];
          cells.push(typeof value === "string" ? csvField(value) : String(value));
        }
      }
      text += `${cells.join(",")}\n`;
    }
    await writer.write(text);
    rowsWritten += n;
  };

  try {
    await report(true);
    const { body } = await deps.registry.artifacts.open(payload.datasetDigest as Digest);
    let index: { inputs: number[][]; passthrough: number[] } | undefined;
    let batch = newBatch();
    for await (const { record, line } of csvRecords(body)) {
      signal.throwIfAborted();
      if (index === undefined) {
        const header = record.map((name) => name.trim());
        const at = (name: string) => {
          const i = header.indexOf(name);
          if (i < 0) throw new PermanentJobError(`line ${line}: the dataset has no column "${name}"`);
          return i;
        };
        index = {
          inputs: payload.inputs.map((input) => input.columns.map(at)),
          passthrough: payload.passthrough.map(at),
        };
        continue;
      }
      rowsDone++;
      let invalid: InvalidRow | undefined;
      const values: number[][] = [];
      payload.inputs.forEach((input, k) => {
        const row: number[] = [];
        (index as { inputs: number[][] }).inputs[k]?.forEach((columnIndex, c) => {
          if (invalid !== undefined) return;
          const raw = record[columnIndex] ?? "";
          const value = parseCell(raw, input.datatype);
          if (typeof value === "number") row.push(value);
          else invalid = { line, column: input.columns[c] as string, value: raw, reason: value };
        });
        values.push(row);
      });
      if (invalid !== undefined) {
        const bad = invalid as InvalidRow;
        if (payload.onInvalidRow === "fail") {
          throw new PermanentJobError(
            // The column is one the request names; the cell is the file's content, which an error never quotes.
            `line ${bad.line}, column "${bad.column}": ${bad.reason === "missing value" ? "a missing value" : `the value is ${bad.reason}`}; ` +
              `fix the file, or score with onInvalidRow "skip" (skala score --on-invalid-row skip) to skip such rows`,
          );
        }
        rowsSkipped++;
        if (invalidRows.length < MAX_INVALID_EXAMPLES) invalidRows.push(bad);
      } else {
        if (batch.rows === 0) batch.firstLine = line;
        batch.lastLine = line;
        batch.rows++;
        values.forEach((row, k) => {
          const target = batch.values[k] as number[];
          for (const v of row) target.push(v);
        });
        batch.passthrough.push(index.passthrough.map((i) => record[i] ?? ""));
      }
      if (batch.rows >= payload.batchRows) {
        await flush(batch);
        batch = newBatch();
        signal.throwIfAborted();
        await report(false);
      }
    }
    if (index === undefined) throw new PermanentJobError("the dataset is empty: a header row is required");
    await flush(batch);
    signal.throwIfAborted();
    if (!headerWritten) await writeHeader();
    await writer.close();
    await report(true);
    signal.throwIfAborted();

    // Published only now: a crash or a cancellation before this point leaves no output anywhere (at most an
    // unreferenced blob, for gc).
    const stored = await deps.registry.artifacts.upload(createReadStream(path));
    const run = await inTransaction(deps.db, (trx) =>
      recordRun(deps.registry, trx, jobId, payload, stored, {
        rows: rowsWritten,
        skipped: rowsSkipped,
      }),
    );
    const output = run.artifacts.find((a) => a.name === OUTPUT_ARTIFACT) ?? stored;
    return {
      output: { digest: output.digest, size: output.size, rows: rowsWritten },
      rowsDone,
      rowsSkipped,
      invalidRows,
      runId: run.id,
      startedAt,
      finishedAt: deps.clock.now().toISOString(),
    };
  } catch (error) {
    throw classify(error, "scoring");
  } finally {
    writer.destroy();
    await rm(path, { force: true });
  }
}
