import cliProgress from "cli-progress";
import { InvalidArgumentError } from "commander";
import type { ScoringJob, SubmitScoringInput } from "../scoring/index.js";
import type { SkalaClient } from "./client.js";
import { writeFileAtomically } from "./files.js";
import type { TextSink } from "./output.js";

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
  /** Where the progress bar goes. */
  progress: TextSink;
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

/** Follows a job with a progress bar (a line every few seconds when not on a terminal) until it ends. */
async function followJob(
  client: SkalaClient,
  project: string,
  first: ScoringJob,
  progress: TextSink,
): Promise<ScoringJob> {
  const bar = new cliProgress.SingleBar(
    {
      format: `${first.model}:${first.version} {bar} {percentage}% | {value}/{total} rows | {rate} rows/s | {skipped} skipped | ETA {eta_formatted}`,
      noTTYOutput: true,
      notTTYSchedule: 3_000,
      etaBuffer: 20,
      stream: progress,
    },
    cliProgress.Presets.shades_classic,
  );
  let job = first;
  bar.start(Math.max(job.rowsTotal, 1), job.rowsDone, { rate: "0", skipped: 0 });
  try {
    while (!TERMINAL.has(job.status)) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      job = await client.call("getScoringJob", { params: { project, id: job.id } });
      bar.update(job.rowsDone, { rate: job.rate.toFixed(0), skipped: job.rowsSkipped });
    }
  } finally {
    bar.stop();
  }
  return job;
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
  // A new job, or the one the same request made before (any 2xx: 202 for a new job, 200 for the earlier one).
  const submitted = await client.call("submitScoringJob", { params: { project: options.project }, body });
  print(
    `scoring ${options.dataset}:${submitted.datasetVersion} (${submitted.rowsTotal} rows) with ${model} version ${submitted.version}: job ${submitted.id}`,
  );
  if (!options.wait) return { job: submitted };
  const job = TERMINAL.has(submitted.status)
    ? submitted
    : await followJob(client, options.project, submitted, options.progress);
  if (job.status !== "succeeded") return { job };
  const out = options.out ?? `${job.model}-v${job.version}-${job.dataset}-v${job.datasetVersion}.scores.csv`;
  const scores = await client.stream("downloadScoringOutput", {
    params: { project: options.project, id: job.id },
  });
  await writeFileAtomically(scores, out);
  print(
    `${job.output?.rows ?? 0} rows scored${job.rowsSkipped > 0 ? `, ${job.rowsSkipped} skipped` : ""} → ${out}`,
  );
  return { job, out };
}
