import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import type { Command } from "commander";
import { parse } from "csv-parse";
import { SkalaError } from "../../core/index.js";
import { ClientError } from "../client.js";
import type { CliContext, ClientOptions } from "../context.js";
import { openRegularFile } from "../files.js";
import { positiveInt } from "../options.js";

type Kind = "predictions" | "feedback";

interface IngestOptions extends ClientOptions {
  batchSize: number;
}

/** A row and the file line it came from (1-based), for messages. */
interface SourceRow {
  line: number;
  value: unknown;
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** A CSV cell as JSON: a number where it reads as one, else the text (the server names what is wrong). */
function cell(text: string): number | string {
  return NUMBER.test(text.trim()) ? Number(text) : text;
}

/**
 * A CSV record as the row the API takes: `features.*`, `outputs.*` and `actual.*` columns become arrays in
 * column order (a lone `actual` column a number); empty cells are left out; every other column is a field.
 */
function csvRow(header: readonly string[], record: readonly string[]): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  header.forEach((name, i) => {
    const text = record[i] ?? "";
    if (text === "") return;
    const dot = name.indexOf(".");
    const field = dot < 0 ? name : name.slice(0, dot);
    if (dot >= 0 && (field === "features" || field === "outputs" || field === "actual")) {
      const list = (row[field] ?? []) as unknown[];
      list.push(cell(text));
      row[field] = list;
    } else if (name === "version" || name === "revision" || name === "actual") {
      row[name] = cell(text);
    } else {
      row[name] = text;
    }
  });
  return row;
}

/** The rows of a `.csv` (header first) or JSON-lines file, one at a time. */
async function* rowsOf(path: string, stream: Readable): AsyncGenerator<SourceRow> {
  if (path.toLowerCase().endsWith(".csv")) {
    let header: string[] | undefined;
    let line = 0;
    for await (const record of stream.pipe(parse({ relax_column_count: true, bom: true }))) {
      line++;
      if (header === undefined) header = (record as string[]).map((name) => name.trim());
      else yield { line, value: csvRow(header, record as string[]) };
    }
    return;
  }
  let line = 0;
  for await (const text of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
    line++;
    if (text.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      // Sent as it is: the server refuses it with the rest of the batch's problems, by row.
      value = text;
    }
    yield { line, value };
  }
}

interface Problem {
  index: number;
  field?: string;
  reason: string;
  message: string;
}

/** `skala monitor ingest predictions|feedback <file>`: a file posted in batches, each stored whole or not at all. */
export function register(program: Command, ctx: CliContext): void {
  const monitor = program.command("monitor").description("monitoring: predictions and ground truth");
  const ingest = monitor
    .command("ingest")
    .description(
      "send predictions or ground truth from a file, in batches (each stored whole or not at all)",
    );
  for (const kind of ["predictions", "feedback"] as const) {
    ctx
      .clientCommand(ingest, kind, kind === "predictions" ? "ingest predictions" : "ingest ground truth")
      .argument("<file>", "JSON lines (one object per line) or .csv with a header")
      .option("--batch-size <n>", "rows per request (at most 50,000)", positiveInt, 5_000)
      .addHelpText(
        "after",
        kind === "predictions"
          ? `
Each row: predictionId, model, version, at (ISO 8601), segment and period (forecasts), features, outputs.
In a CSV, the columns features.<name> and outputs.<name> give the arrays, in column order.

Examples:
  skala monitor ingest predictions predictions.jsonl
  skala monitor ingest predictions scored.csv --batch-size 20000`
          : `
Each row: model, predictionId (or segment and period, for a forecast), actual, at (optional), revision
(optional; a restatement of a stored actual names a higher one). In a CSV, actual.<n> columns give an
array.

Examples:
  skala monitor ingest feedback actuals.jsonl`,
      )
      .action(async (file: string, o: IngestOptions) => {
        const summary = await ingestFile(ctx, kind, file, o);
        if (o.json) ctx.out.json(summary);
        else
          ctx.out.line(`${summary.accepted} ${kind} rows stored in ${summary.batches} batches from ${file}`);
      });
  }
}

async function ingestFile(
  ctx: CliContext,
  kind: Kind,
  path: string,
  o: IngestOptions,
): Promise<{ accepted: number; batches: number }> {
  if (o.batchSize > 50_000) {
    throw new SkalaError("VALIDATION_FAILED", "--batch-size: at most 50000", {
      issues: [{ path: "--batch-size", message: "at most 50000" }],
    });
  }
  const file = await openRegularFile(path);
  const client = ctx.client(o);
  let accepted = 0;
  let batches = 0;
  let batch: SourceRow[] = [];
  const send = async () => {
    if (batch.length === 0) return;
    const rows = batch.map((r) => r.value);
    try {
      const answer =
        kind === "predictions"
          ? await client.call("ingestPredictions", {
              params: { project: o.project },
              body: { predictions: rows as never },
            })
          : await client.call("ingestFeedback", {
              params: { project: o.project },
              body: { feedback: rows as never },
            });
      accepted += answer.accepted;
      batches++;
    } catch (error) {
      throw refusedBatch(ctx, error, { kind, path, batch, batches, accepted });
    }
    batch = [];
  };
  try {
    for await (const row of rowsOf(path, file.stream())) {
      batch.push(row);
      if (batch.length >= o.batchSize) await send();
    }
    await send();
  } finally {
    await file.close();
  }
  return { accepted, batches };
}

/** A refused batch: its problems with their file lines on stderr, and what was stored before it. */
function refusedBatch(
  ctx: CliContext,
  error: unknown,
  at: { kind: Kind; path: string; batch: SourceRow[]; batches: number; accepted: number },
): unknown {
  if (!(error instanceof ClientError)) return error;
  const first = at.batch[0]?.line ?? 0;
  const last = at.batch.at(-1)?.line ?? 0;
  const problems = ((error.details as { problems?: Problem[] } | undefined)?.problems ?? []).slice(0, 20);
  for (const p of problems) {
    const line = at.batch[p.index]?.line;
    ctx.stderr.write(
      `${at.path}:${line ?? "?"}: ${p.reason}${p.field ? ` (${p.field})` : ""}: ${p.message}\n`,
    );
  }
  const before =
    at.batches === 0
      ? "nothing before it"
      : `${at.accepted} rows in ${at.batches} earlier batches stay stored`;
  const code =
    error.code === "PREDICTIONS_INVALID" || error.code === "FEEDBACK_INVALID" ? error.code : undefined;
  if (code === undefined) return error;
  return new SkalaError(
    code,
    `${at.path}: the batch of lines ${first}–${last} was refused, nothing of it stored (${before}): ${error.message}`,
    error.details as Record<string, unknown>,
  );
}
