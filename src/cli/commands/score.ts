import { type Command, InvalidArgumentError, Option } from "commander";
import { SkalaError } from "../../core/index.js";
import { parseDatasetRef, scoreDataset } from "../batch-scoring.js";
import type { CliContext, ClientOptions } from "../context.js";
import { positiveInt } from "../options.js";

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

interface ScoreCommandOptions extends ClientOptions {
  dataset: { dataset: string; datasetVersion?: number };
  version?: string;
  columns?: Record<string, string[]>;
  passthrough?: string[];
  out?: string;
  batchRows?: number;
  onInvalidRow: "fail" | "skip";
  wait: boolean;
}

/** `skala score`: a batch scoring job, followed and downloaded. */
export function register(program: Command, ctx: CliContext): void {
  ctx
    .clientCommand(
      program,
      "score",
      "score a dataset with a model version into a CSV file (a batch scoring job)",
    )
    .argument("<model>", "registered model")
    .requiredOption(
      "--dataset <name[:version]>",
      "dataset to score, latest version unless :version",
      parseDatasetRef,
    )
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
    .action(async (model: string, o: ScoreCommandOptions) => {
      const { job, out } = await scoreDataset(
        ctx.client(o),
        model,
        {
          project: o.project,
          ...o.dataset,
          wait: o.wait,
          onInvalidRow: o.onInvalidRow,
          progress: ctx.stderr,
          ...(o.version !== undefined && { version: o.version }),
          ...(o.columns !== undefined && { columns: o.columns }),
          ...(o.passthrough !== undefined && { passthrough: o.passthrough }),
          ...(o.out !== undefined && { out: o.out }),
          ...(o.batchRows !== undefined && { batchRows: o.batchRows }),
        },
        (line) => {
          if (!o.json) ctx.out.line(line);
        },
      );
      if (o.json) ctx.out.json({ ...job, ...(out && { out }) });
      else if (!o.wait)
        ctx.out.object({ id: job.id, status: job.status, version: job.version, rows: job.rowsTotal }, o);
      if (job.status === "failed" || job.status === "cancelled") {
        throw new SkalaError(
          "SCORING_JOB_FAILED",
          `scoring job ${job.id} ${job.status}: ${job.error ?? ""}`,
          {
            job: job.id,
          },
        );
      }
    });
}
