import { createHash } from "node:crypto";
import type { Digest } from "../artifacts/index.js";
import {
  type Clock,
  isSkalaError,
  SkalaError,
  systemClock,
  type ValidationIssue,
  validationError,
} from "../core/index.js";
import type { Job, JobQueue, WorkerPool } from "../jobs/index.js";
import {
  type DatasetVersion,
  type ModelVersion,
  parseVersionRef,
  type Registry,
  type VersionRef,
} from "../registry/index.js";
import {
  DEFAULT_ALIAS,
  type InferenceService,
  isProtocolError,
  ModelLoadError,
  type ModelMetadata,
} from "../serving/index.js";
import { type Executor, inTransaction, type Store } from "../store/index.js";
import { type InvalidRowPolicy, planColumns } from "./column-plan.js";
import { runScoringJob } from "./score-runner.js";
import {
  DEFAULT_BATCH_ROWS,
  MAX_BATCH_ROWS,
  SCORE_JOB,
  type ScorePayload,
  type ScoreProgress,
  type ScoreResult,
  type ScoringJob,
  type SubmitScoringInput,
  type SubmitScoringResult,
} from "./scoring.types.js";

export interface ScoringServiceOptions {
  /** A submission and a job's published result are each one transaction over the store's database. */
  store: Pick<Store, "db">;
  registry: Registry;
  jobs: JobQueue;
  /** Scores through its public `infer`, so batch scoring loads models through the same cache as `/v2`. */
  inference: InferenceService;
  clock?: Clock;
  /** Where a job writes its output before storing it; the system's temporary directory by default. */
  tmpDir?: string;
  /** Claims a job may use before it fails for good. Default 3. */
  maxAttempts?: number;
  /** Least time between two progress reports of a running job, in ms. Default 500. */
  progressIntervalMs?: number;
}

/** The largest version number a database column holds; larger numbers cannot name a version. */
const MAX_VERSION_NUMBER = 2 ** 31 - 1;
const POLICIES: readonly InvalidRowPolicy[] = ["fail", "skip"];

function notFound(project: string, id: string): SkalaError {
  return new SkalaError(
    "SCORING_JOB_NOT_FOUND",
    `scoring job "${id}" does not exist in project "${project}"`,
    {
      project,
      job: id,
    },
  );
}

/** "PermanentJobError: line 7, …" → "line 7, …": the error class is the queue's business, not the user's. */
function cleanError(text: string | null): string | undefined {
  return text === null ? undefined : text.replace(/^[A-Za-z]*Error: /, "");
}

function seconds(from: string, to: string): number {
  return Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);
}

function checkInput(input: SubmitScoringInput): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const nonEmpty = (value: unknown) => typeof value === "string" && value.length > 0;
  if (!nonEmpty(input.model)) issues.push({ path: "/model", message: "must be a non-empty string" });
  if (!nonEmpty(input.dataset)) issues.push({ path: "/dataset", message: "must be a non-empty string" });
  if (
    input.version !== undefined &&
    !(typeof input.version === "number" ? Number.isInteger(input.version) : nonEmpty(input.version))
  ) {
    issues.push({ path: "/version", message: "must be a version number or an alias" });
  }
  if (
    input.datasetVersion !== undefined &&
    !(Number.isInteger(input.datasetVersion) && input.datasetVersion >= 1)
  ) {
    issues.push({ path: "/datasetVersion", message: "must be an integer ≥ 1" });
  }
  if (
    input.batchRows !== undefined &&
    !(Number.isInteger(input.batchRows) && input.batchRows >= 1 && input.batchRows <= MAX_BATCH_ROWS)
  ) {
    issues.push({ path: "/batchRows", message: `must be an integer from 1 to ${MAX_BATCH_ROWS}` });
  }
  if (input.onInvalidRow !== undefined && !POLICIES.includes(input.onInvalidRow)) {
    issues.push({ path: "/onInvalidRow", message: `must be one of ${POLICIES.join(", ")}` });
  }
  for (const [name, columns] of Object.entries(input.columns ?? {})) {
    if (!Array.isArray(columns) || columns.length === 0 || !columns.every(nonEmpty)) {
      issues.push({ path: `/columns/${name}`, message: "must be a non-empty list of column names" });
    }
  }
  if (
    input.passthrough !== undefined &&
    !(Array.isArray(input.passthrough) && input.passthrough.every(nonEmpty))
  ) {
    issues.push({ path: "/passthrough", message: "must be a list of column names" });
  }
  return issues;
}

/**
 * Batch scoring: a dataset version scored by one model version into an output CSV, as a durable job. Submit
 * validates everything it can (model, version, dataset, column mapping against the dataset's profiled
 * columns and the model's inputs) and enqueues an `inference.score` job; a worker pool that `attach`ed the
 * service runs it (runScoringJob). The same request again returns the same job.
 *
 * @example
 * const scoring = new ScoringService({ store, registry, jobs, inference });
 * scoring.attach(workerPool);
 * const { job } = await scoring.submit("default", { model: "churn", dataset: "customers", passthrough: ["id"] });
 * const later = await scoring.get("default", job.id); // { status, rowsDone, rowsTotal, rate, etaSeconds, output? }
 */
export class ScoringService {
  private readonly db: Executor;
  private readonly registry: Registry;
  private readonly jobs: JobQueue;
  private readonly inference: InferenceService;
  private readonly clock: Clock;
  private readonly maxAttempts: number;
  private readonly pools: WorkerPool[] = [];

  constructor(private readonly options: ScoringServiceOptions) {
    this.db = options.store.db;
    this.registry = options.registry;
    this.jobs = options.jobs;
    this.inference = options.inference;
    this.clock = options.clock ?? systemClock;
    this.maxAttempts = options.maxAttempts ?? 3;
  }

  /** Registers the job handler on a worker pool (a process that scores); submits then wake it at once. */
  attach(pool: WorkerPool): void {
    pool.register<ScorePayload, ScoreResult>(SCORE_JOB, (job, context) =>
      runScoringJob(job.id, job.payload, context, {
        db: this.db,
        registry: this.registry,
        inference: this.inference,
        clock: this.clock,
        ...(this.options.tmpDir !== undefined && { tmpDir: this.options.tmpDir }),
        ...(this.options.progressIntervalMs !== undefined && {
          progressIntervalMs: this.options.progressIntervalMs,
        }),
      }),
    );
    this.pools.push(pool);
  }

  async submit(project: string, input: SubmitScoringInput): Promise<SubmitScoringResult> {
    await this.registry.projects.get(project);
    const issues = checkInput(input);
    if (project !== this.inference.project) {
      issues.push({
        path: "/project",
        message: `batch scoring serves the inference server's project "${this.inference.project}", not "${project}"`,
      });
    }
    if (issues.length > 0) throw validationError(issues);
    const onInvalidRow = input.onInvalidRow ?? "fail";
    const batchRows = input.batchRows ?? DEFAULT_BATCH_ROWS;
    const version = await this.resolveVersion(project, input.model, input.version);
    const dataset = await this.resolveDataset(project, input.dataset, input.datasetVersion);
    const metadata = await this.metadata(version);
    const plan = planColumns({
      metadata,
      schema: dataset.schema,
      ...(input.columns !== undefined && { columns: input.columns }),
      ...(input.passthrough !== undefined && { passthrough: input.passthrough }),
      onInvalidRow,
    });
    const payload: ScorePayload = {
      project,
      model: version.model,
      version: version.version,
      versionId: version.id,
      dataset: dataset.dataset,
      datasetVersion: dataset.version,
      datasetDigest: dataset.digest,
      rowsTotal: dataset.rows,
      inputs: plan.inputs,
      passthrough: plan.passthrough,
      outputs: plan.outputs,
      batchRows,
      onInvalidRow,
    };
    const key = `score:${createHash("sha256")
      .update(
        JSON.stringify([
          project,
          version.id,
          dataset.id,
          plan.inputs.map((i) => [i.name, i.columns]),
          plan.passthrough,
          batchRows,
          onInvalidRow,
        ]),
      )
      .digest("hex")}`;
    // A failed or cancelled job under the key is history: the same request again gets a new job, keyed after
    // that one, so that retrying a submission stays idempotent too. The walk down that chain and the insert
    // at its end are one transaction; identical submissions racing meet at the unique key.
    const { job, created } = await inTransaction(this.db, async (trx) => {
      let idempotencyKey = key;
      for (;;) {
        const { jobs, created } = await this.jobs.enqueue(
          [{ kind: SCORE_JOB, payload, idempotencyKey, maxAttempts: this.maxAttempts }],
          trx,
        );
        const job = jobs[0] as Job;
        if (job.status !== "failed" && job.status !== "cancelled") return { job, created: created > 0 };
        idempotencyKey = `${key}:after:${job.id}`;
      }
    });
    // After the commit, or a woken worker would find nothing to claim.
    if (created) for (const pool of this.pools) pool.notify();
    return { job: this.toScoringJob(job), created };
  }

  async get(project: string, id: string): Promise<ScoringJob> {
    return this.toScoringJob(await this.job(project, id));
  }

  /** Cancels a queued or running job (a running one stops at its next batch); a finished job is returned as is. */
  async cancel(project: string, id: string): Promise<ScoringJob> {
    const job = await this.job(project, id);
    if (job.status === "queued" || job.status === "running") await this.jobs.cancel(job.id);
    return this.get(project, id);
  }

  /** The output CSV of a succeeded job; CONFLICT while it is queued or running, or when it failed. */
  async output(
    project: string,
    id: string,
  ): Promise<{ job: ScoringJob; size: number; body: AsyncIterable<Uint8Array> }> {
    const job = await this.get(project, id);
    if (job.status !== "succeeded" || job.output === undefined) {
      throw new SkalaError(
        "CONFLICT",
        job.status === "queued" || job.status === "running"
          ? `scoring job "${id}" is ${job.status} (${job.rowsDone} of ${job.rowsTotal} rows): its output exists once it has succeeded`
          : `scoring job "${id}" ${job.status}${job.error ? `: ${job.error}` : ""}; it has no output`,
        { project, job: id, status: job.status },
      );
    }
    const { size, body } = await this.registry.artifacts.open(job.output.digest as Digest);
    return { job, size, body };
  }

  private async job(project: string, id: string): Promise<Job> {
    const job = await this.jobs.get(id);
    if (job === undefined || job.kind !== SCORE_JOB || (job.payload as ScorePayload).project !== project) {
      throw notFound(project, id);
    }
    return job;
  }

  /** The inference server's default resolution when no version is named: `champion`, else the latest ready. */
  private async resolveVersion(
    project: string,
    model: string,
    ref: number | string | undefined,
  ): Promise<ModelVersion> {
    if (ref === undefined) return this.registry.versions.defaultVersion(project, model, DEFAULT_ALIAS);
    const parsed: VersionRef = typeof ref === "number" ? ref : parseVersionRef(ref);
    if (typeof parsed === "number" && !(parsed >= 1 && parsed <= MAX_VERSION_NUMBER)) {
      await this.registry.models.get(project, model);
      throw new SkalaError("VERSION_NOT_FOUND", `model "${model}" has no version ${ref}`, {
        project,
        model,
        version: ref,
      });
    }
    return this.registry.versions.get(project, model, parsed);
  }

  private async resolveDataset(
    project: string,
    name: string,
    version: number | undefined,
  ): Promise<DatasetVersion> {
    if (version !== undefined) return this.registry.datasets.version(project, name, version);
    const [latest] = await this.registry.datasets.versions(project, name);
    return latest as DatasetVersion;
  }

  /** The model's inputs and outputs as its runtime reports them (this loads the model, as scoring will). */
  private async metadata(version: ModelVersion): Promise<ModelMetadata> {
    const label = `model "${version.model}" version ${version.version}`;
    try {
      return await this.inference.modelMetadata(version.model, String(version.version));
    } catch (error) {
      if (isSkalaError(error) && error.code === "MODEL_LOAD_FAILED") {
        throw new SkalaError("VALIDATION_FAILED", `${label} cannot be scored: ${error.message}`, {
          issues: [{ path: "/model", message: error.message }],
        });
      }
      // A missing model or version fails with the registry's own code; only the protocol's errors are sorted.
      if (!isProtocolError(error)) throw error;
      if (error.cause instanceof ModelLoadError) {
        throw new SkalaError("VALIDATION_FAILED", `${label} cannot be scored: ${error.message}`, {
          issues: [{ path: "/model", message: error.message }],
        });
      }
      if (
        error.code === "MODEL_NOT_READY" ||
        error.code === "OVERLOADED" ||
        error.code === "SERVICE_UNAVAILABLE"
      )
        throw new SkalaError("SERVICE_UNAVAILABLE", error.message, undefined, { cause: error });
      throw new SkalaError("VALIDATION_FAILED", `${label} cannot be scored: ${error.message}`, {
        issues: [{ path: "/model", message: error.message }],
      });
    }
  }

  private toScoringJob(job: Job): ScoringJob {
    const payload = job.payload as ScorePayload;
    const result = job.status === "succeeded" ? (job.result as ScoreResult | null) : null;
    const progress = job.progress as ScoreProgress | null;
    const rowsDone = result?.rowsDone ?? progress?.rowsDone ?? 0;
    const elapsed = result
      ? seconds(result.startedAt, result.finishedAt)
      : progress
        ? seconds(progress.startedAt, progress.at)
        : 0;
    const rate = elapsed > 0 ? rowsDone / elapsed : 0;
    const error = job.status === "failed" || job.status === "queued" ? cleanError(job.lastError) : undefined;
    return {
      id: job.id,
      status: job.status,
      project: payload.project,
      model: payload.model,
      version: payload.version,
      dataset: payload.dataset,
      datasetVersion: payload.datasetVersion,
      onInvalidRow: payload.onInvalidRow,
      rowsDone,
      rowsTotal: payload.rowsTotal,
      rowsSkipped: result?.rowsSkipped ?? progress?.rowsSkipped ?? 0,
      rate,
      etaSeconds:
        job.status === "running" && rate > 0 ? Math.max(0, payload.rowsTotal - rowsDone) / rate : null,
      attempts: job.attempts,
      createdAt: job.createdAt,
      startedAt: job.startedAt,
      finishedAt: job.finishedAt,
      ...(result && {
        output: result.output,
        runId: result.runId,
        ...(result.invalidRows.length > 0 && { invalidRows: result.invalidRows }),
      }),
      ...(error !== undefined && { error }),
    };
  }
}
