import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import cliProgress from "cli-progress";
import { type Command, InvalidArgumentError, Option } from "commander";
import type { ScoringJob, SubmitScoringInput } from "../scoring/index.js";
import { ClientError, type SkalaClient } from "./client.js";
import { printObject } from "./output.js";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
const POLL_MS = 500;

export interface ScoreOptions {
  project: string;
  dataset: string;
  datasetVersion?: number;
  version?: string;
  columns?: Record<string, string[]>;
  passthrough?: string[];
  batchRows?: number;
  onInvalidRow?: "fail" | "skip";
  /** Where the output goes; default `<model>-v<version>-<dataset>-v<datasetVersion>.scores.csv`. */
  out?: string;
  wait: boolean;
}

/** `name` or `name:version`. */
export function parseDatasetRef(value: string): { dataset: string; datasetVersion?: number } {
  const at = value.lastIndexOf(":");
  if (at < 0) return { dataset: value };
  const version = Number(value.slice(at + 1));
  if (at === 0 || !Number.isInteger(version) || version < 1) {
    throw new InvalidArgumentError(`"${value}" is not a dataset name or name:version`);
  }
  return { dataset: value.slice(0, at), datasetVersion: version };
}

/** `--columns input=colA,colB`, repeatable: one model input each. */
function collectColumns(value: string, previous: Record<string, string[]> = {}): Record<string, string[]> {
  const at = value.indexOf("=");
  const columns = value
    .slice(at + 1)
    .split(",")
    .map((c) => c.trim());
  if (at <= 0 || columns.some((c) => c === "")) {
    throw new InvalidArgumentError(`"${value}" is not input=column[,column…]`);
  }
  return { ...previous, [value.slice(0, at)]: columns };
}

/** `--passthrough id`, repeatable or comma-separated. */
function collectList(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").map((c) => c.trim())];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`"${value}" is not a positive integer`);
  return n;
}

/** Follows a job with a progress bar (a line every few seconds when not on a terminal) until it ends. */
async function followJob(client: SkalaClient, path: string, first: ScoringJob): Promise<ScoringJob> {
  const bar = new cliProgress.SingleBar(
    {
      format: `${first.model}:${first.version} {bar} {percentage}% | {value}/{total} rows | {rate} rows/s | {skipped} skipped | ETA {eta_formatted}`,
      noTTYOutput: true,
      notTTYSchedule: 3_000,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  let job = first;
  bar.start(Math.max(job.rowsTotal, 1), job.rowsDone, { rate: "0", skipped: 0 });
  while (!TERMINAL.has(job.status)) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    job = await client.request<ScoringJob>("GET", path);
    bar.update(job.rowsDone, { rate: job.rate.toFixed(0), skipped: job.rowsSkipped });
  }
  bar.stop();
  return job;
}

/** Streams a job's output CSV to `file` (through a temporary name, so a broken download leaves no file). */
async function download(client: SkalaClient, path: string, file: string): Promise<void> {
  let response: Response;
  try {
    response = await fetch(new URL(path, client.server));
  } catch (error) {
    throw new ClientError(
      "SERVER_UNREACHABLE",
      `cannot reach ${client.server}: ${(error as Error).message}`,
      0,
    );
  }
  if (!response.ok || response.body === null) {
    const text = await response.text();
    let error: { code?: string; message?: string } | undefined;
    try {
      error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    } catch {
      error = undefined;
    }
    throw new ClientError(error?.code ?? `HTTP_${response.status}`, error?.message ?? text, response.status);
  }
  const partial = `${file}.part`;
  try {
    await pipeline(
      Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      createWriteStream(partial),
    );
    await rename(partial, file);
  } finally {
    await rm(partial, { force: true });
  }
}

/**
 * `skala score MODEL --dataset NAME[:VERSION]`: submits a batch scoring job, follows it with a progress bar
 * and downloads the output CSV. The same request again follows (or downloads) the job it made before.
 */
export async function scoreDataset(
  client: SkalaClient,
  model: string,
  options: ScoreOptions,
  print: (line: string) => void,
): Promise<{ job: ScoringJob; out?: string }> {
  const base = `/api/v1/projects/${encodeURIComponent(options.project)}/scoring-jobs`;
  const version =
    options.version === undefined
      ? undefined
      : /^[0-9]+$/.test(options.version)
        ? Number(options.version)
        : options.version;
  const body: SubmitScoringInput = {
    model,
    dataset: options.dataset,
    ...(options.datasetVersion !== undefined && { datasetVersion: options.datasetVersion }),
    ...(version !== undefined && { version }),
    ...(options.columns !== undefined && { columns: options.columns }),
    ...(options.passthrough !== undefined && { passthrough: options.passthrough }),
    ...(options.batchRows !== undefined && { batchRows: options.batchRows }),
    ...(options.onInvalidRow !== undefined && { onInvalidRow: options.onInvalidRow }),
  };
  // A new job, or the one the same request made before (the server answers 202 or 200).
  const submitted = await client.request<ScoringJob>("POST", base, body);
  print(
    `scoring ${options.dataset}:${submitted.datasetVersion} (${submitted.rowsTotal} rows) with ${model} version ${submitted.version}: job ${submitted.id}`,
  );
  if (!options.wait) return { job: submitted };
  const path = `${base}/${encodeURIComponent(submitted.id)}`;
  const job = TERMINAL.has(submitted.status) ? submitted : await followJob(client, path, submitted);
  if (job.status !== "succeeded") return { job };
  const out = options.out ?? `${job.model}-v${job.version}-${job.dataset}-v${job.datasetVersion}.scores.csv`;
  await download(client, `${path}/output`, out);
  print(
    `${job.output?.rows ?? 0} rows scored${job.rowsSkipped > 0 ? `, ${job.rowsSkipped} skipped` : ""} → ${out}`,
  );
  return { job, out };
}

/** Registers `skala score` on the program; `clientCommand` adds the server, project and JSON options. */
export function addScoreCommand(
  program: Command,
  clientCommand: (parent: Command, name: string, description: string) => Command,
  client: (o: { server: string; project: string; json: boolean }) => SkalaClient,
): void {
  clientCommand(
    program,
    "score",
    "score a dataset with a model version into a CSV file (a batch scoring job)",
  )
    .argument("<model>", "registered model")
    .requiredOption("--dataset <name[:version]>", "dataset to score, latest version unless :version")
    .option("--version <v>", "version number or alias (default: champion, else the latest version)")
    .option(
      "--columns <input=colA,colB>",
      "columns feeding a model input, in order; repeat per input (default: the numeric columns for one " +
        "[-1, k] input, else the column named like each input)",
      collectColumns,
    )
    .option("--passthrough <column>", "column copied to the output, e.g. an id; repeatable", collectList)
    .option(
      "--out <file>",
      "where to write the scores (default <model>-v<version>-<dataset>-v<n>.scores.csv)",
    )
    .option("--batch-rows <n>", "rows per inference request (default 1000)", positiveInt)
    .addOption(
      new Option(
        "--on-invalid-row <policy>",
        "a row with a missing or non-numeric value: fail the job, or skip it",
      )
        .choices(["fail", "skip"])
        .default("fail"),
    )
    .option("--no-wait", "submit and print the job without following it")
    .addHelpText(
      "after",
      `
The output has the passthrough columns, then one column per model output element: <output> when the output
has one element per row, <output>_0, <output>_1, … otherwise. The whole file is scored by the version
resolved at submit, even if an alias moves meanwhile. Submitting the same request again follows the same job.

Examples:
  skala score churn --dataset customers --passthrough id --out scores.csv
  skala score churn --dataset customers:3 --version 7 --columns input=age,tenure,spend,visits
  skala score churn --dataset customers --on-invalid-row skip --no-wait`,
    )
    .action(
      async (
        model: string,
        o: {
          server: string;
          project: string;
          json: boolean;
          dataset: string;
          version?: string;
          columns?: Record<string, string[]>;
          passthrough?: string[];
          out?: string;
          batchRows?: number;
          onInvalidRow: "fail" | "skip";
          wait: boolean;
        },
      ) => {
        const result = await scoreDataset(
          client(o),
          model,
          {
            project: o.project,
            ...parseDatasetRef(o.dataset),
            wait: o.wait,
            onInvalidRow: o.onInvalidRow,
            ...(o.version !== undefined && { version: o.version }),
            ...(o.columns !== undefined && { columns: o.columns }),
            ...(o.passthrough !== undefined && { passthrough: o.passthrough }),
            ...(o.out !== undefined && { out: o.out }),
            ...(o.batchRows !== undefined && { batchRows: o.batchRows }),
          },
          (line) => {
            if (!o.json) process.stdout.write(`${line}\n`);
          },
        );
        const { job } = result;
        if (o.json)
          process.stdout.write(
            `${JSON.stringify({ ...job, ...(result.out && { out: result.out }) }, null, 2)}\n`,
          );
        else if (!o.wait)
          printObject({ id: job.id, status: job.status, version: job.version, rows: job.rowsTotal }, o);
        if (job.status === "failed" || job.status === "cancelled") {
          throw new ClientError(
            "SCORING_JOB_FAILED",
            `scoring job ${job.id} ${job.status}: ${job.error ?? ""}`,
            0,
          );
        }
      },
    );
}
