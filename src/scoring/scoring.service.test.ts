import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type SkalaError, systemClock } from "../core/index.js";
import { testApp } from "../http/test-support/test-app.js";
import { JobQueue, WorkerPool } from "../jobs/index.js";
import { DEFAULT_PROJECT, type Registry, type Run } from "../registry/index.js";
import type { InferenceService } from "../serving/index.js";
import { ProtocolError } from "../serving/index.js";
import {
  evaluateLinear,
  type LinearSpec,
  linearModel,
  randomInput,
} from "../serving/test-support/onnx-models/index.js";
import type { Store } from "../store/index.js";
import { testDialects } from "../store/test-support/dialects.js";
import { failWrites } from "../store/test-support/faults.js";
import { ScoringService } from "./scoring.service.js";
import type { ScoringJob, SubmitScoringInput } from "./scoring.types.js";

const V1: LinearSpec = { inputs: 4, outputs: 2, seed: 11 };
const V2: LinearSpec = { inputs: 4, outputs: 2, seed: 12 };
const ROWS = 3_000;
/** Most tests score the first rows only: parsing is the cost, and a few hundred rows make several batches. */
const SMALL = 600;
const FEATURES = randomInput(4, ROWS, 5);
const WAIT = { timeout: 8_000, interval: 10 };

/** `id,x1,x2,x3,x4` with ids r00000…; `edit` may rewrite a data row (0-based) before it is joined. */
function csv(rows = ROWS, edit?: (row: number, cells: string[]) => string[]): string {
  const lines = ["id,x1,x2,x3,x4"];
  for (let r = 0; r < rows; r++) {
    let cells = [`r${String(r).padStart(5, "0")}`];
    for (let c = 0; c < 4; c++) cells.push(String(FEATURES[r * 4 + c]));
    if (edit) cells = edit(r, cells);
    lines.push(cells.join(","));
  }
  return `${lines.join("\n")}\n`;
}

/** Output CSV → rows of cells. */
function parseOutput(text: string): string[][] {
  return text
    .trim()
    .split("\n")
    .map((line) => line.split(","));
}

function expectScores(text: string, spec: LinearSpec, rows: number[]): void {
  const lines = parseOutput(text);
  expect(lines[0]).toEqual(["id", "output_0", "output_1"]);
  expect(lines).toHaveLength(rows.length + 1);
  const input = new Float32Array(rows.length * 4);
  rows.forEach((r, i) => {
    input.set(FEATURES.subarray(r * 4, r * 4 + 4), i * 4);
  });
  const expected = evaluateLinear(spec, input);
  rows.forEach((r, i) => {
    const line = lines[i + 1] as string[];
    expect(line[0]).toBe(`r${String(r).padStart(5, "0")}`);
    expect(Number(line[1])).toBeCloseTo(expected[i * 2] as number, 5);
    expect(Number(line[2])).toBeCloseTo(expected[i * 2 + 1] as number, 5);
  });
}

async function text(body: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString("utf8");
}

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
/** True while the running scoring job is on its first attempt: a fault for that attempt only. */
const FIRST_ATTEMPT =
  "(select max(attempts) from jobs where kind = 'inference.score' and status = 'running') = 1";

describe.each(testDialects())("batch scoring on %s", (dialect) => {
  let store: Store;
  let registry: Registry;
  let scoring: ScoringService;
  let pool: WorkerPool;
  let app: Awaited<ReturnType<typeof testApp>>["app"];
  let dispose: () => Promise<void>;
  /** Test knobs on the inference the scoring service sees. */
  const knobs = { delayMs: 0, calls: 0, failAtCall: -1 };

  beforeAll(async () => {
    const ctx = await testApp({
      dialect,
      inference: true,
      scoring: (deps) => {
        store = deps.store;
        const slowed: InferenceService = {
          ...deps.inference,
          project: deps.inference.project,
          async infer(name, ref, body) {
            knobs.calls++;
            if (knobs.calls === knobs.failAtCall)
              throw new ProtocolError("MODEL_NOT_READY", "model is not ready: injected");
            if (knobs.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, knobs.delayMs));
            return deps.inference.infer(name, ref, body);
          },
        };
        const jobs = new JobQueue({
          store: deps.store,
          clock: systemClock,
          backoff: { baseMs: 10, maxMs: 20 },
        });
        scoring = new ScoringService({
          store: deps.store,
          registry: deps.registry,
          jobs,
          inference: slowed,
          progressIntervalMs: 0,
        });
        pool = new WorkerPool({ queue: jobs, concurrency: 2, pollMs: 20, leaseMs: 3_000 });
        scoring.attach(pool);
        pool.start();
        return scoring;
      },
    });
    ({ app, registry } = ctx);
    await registry.projects.create({ name: "other" });
    const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
    await registry.versions.bulkRegister(DEFAULT_PROJECT, {
      versions: [
        {
          model: "lin",
          runtime: "onnx",
          artifact: { base64: base64(linearModel(V1)) },
          aliases: ["champion"],
        },
        { model: "lin", runtime: "onnx", artifact: { base64: base64(linearModel(V2)) } },
      ],
    });
    await dataset("points", csv());
    await dataset("small", csv(SMALL));
    dispose = async () => {
      await pool.stop({ timeoutMs: 5_000, abort: true });
      await ctx.close();
    };
  });
  afterAll(() => dispose());

  async function dataset(name: string, content: string) {
    const { digest } = await registry.artifacts.upload(Buffer.from(content));
    return registry.datasets.registerVersion(DEFAULT_PROJECT, name, { digest });
  }

  async function finished(id: string): Promise<ScoringJob> {
    let job: ScoringJob | undefined;
    await vi.waitFor(async () => {
      job = await scoring.get(DEFAULT_PROJECT, id);
      expect(TERMINAL.has(job.status), job.status).toBe(true);
    }, WAIT);
    return job as ScoringJob;
  }

  /** The registry runs that record a scoring job. */
  async function runsOf(jobId: string): Promise<Run[]> {
    const runs = await registry.runs.list(DEFAULT_PROJECT, { limit: 1_000 });
    return runs.items.filter((run) => run.sourceRef === `scoring:${jobId}`);
  }

  async function rejection(input: SubmitScoringInput, project = DEFAULT_PROJECT): Promise<SkalaError> {
    return (await scoring.submit(project, input).then(
      () => expect.unreachable("submit should have failed"),
      (error: unknown) => error,
    )) as SkalaError;
  }

  it("scores a few thousand rows with the champion, keeps the passthrough id, and reports growing progress", async () => {
    knobs.delayMs = 15;
    const { job, created } = await scoring.submit(DEFAULT_PROJECT, {
      model: "lin",
      dataset: "points",
      passthrough: ["id"],
      batchRows: 250,
    });
    expect(created).toBe(true);
    expect(job).toMatchObject({
      status: "queued",
      version: 1,
      datasetVersion: 1,
      rowsTotal: ROWS,
      rowsDone: 0,
    });
    const seen: number[] = [];
    let current = job;
    while (!TERMINAL.has(current.status)) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      current = await scoring.get(DEFAULT_PROJECT, job.id);
      seen.push(current.rowsDone);
      if (current.status === "running" && current.rowsDone > 0) {
        expect(current.rate).toBeGreaterThan(0);
        expect(current.etaSeconds).not.toBeNull();
      }
    }
    knobs.delayMs = 0;
    expect(current.status, current.error).toBe("succeeded");
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen.some((n) => n > 0 && n < ROWS)).toBe(true);
    expect(current).toMatchObject({ rowsDone: ROWS, rowsSkipped: 0, etaSeconds: null });
    expect(current.output?.rows).toBe(ROWS);
    const output = await scoring.output(DEFAULT_PROJECT, job.id);
    expect(output.size).toBe(current.output?.size);
    expectScores(
      await text(output.body),
      V1,
      Array.from({ length: ROWS }, (_, r) => r),
    );
    // Recorded on a registry run, which keeps the output from garbage collection.
    const run = await registry.runs.get(DEFAULT_PROJECT, current.runId as string);
    expect(run.status).toBe("finished");
    expect(JSON.stringify(run)).toContain(current.output?.digest as string);

    // The same request again is the same job.
    const again = await scoring.submit(DEFAULT_PROJECT, {
      model: "lin",
      dataset: "points",
      passthrough: ["id"],
      batchRows: 250,
    });
    expect(again.created).toBe(false);
    expect(again.job.id).toBe(job.id);
  });

  it("pins the version resolved at submit even when the alias moves", async () => {
    knobs.delayMs = 20;
    const request = { model: "lin", dataset: "small", passthrough: ["id"], batchRows: 100 };
    const { job } = await scoring.submit(DEFAULT_PROJECT, request);
    // Version 2 is never loaded: the job infers with the number resolved at submit, not the alias.
    await registry.versions.setAlias(DEFAULT_PROJECT, "lin", "champion", { version: 2 });
    const done = await finished(job.id);
    knobs.delayMs = 0;
    await registry.versions.setAlias(DEFAULT_PROJECT, "lin", "champion", { version: 1 });
    expect(done).toMatchObject({ status: "succeeded", version: 1 });
    expectScores(
      await text((await scoring.output(DEFAULT_PROJECT, job.id)).body),
      V1,
      Array.from({ length: SMALL }, (_, r) => r),
    );
    // Naming that version and the default columns explicitly is the same request, so the same job.
    const named = await scoring.submit(DEFAULT_PROJECT, {
      ...request,
      version: 1,
      datasetVersion: 1,
      columns: { input: ["x1", "x2", "x3", "x4"] },
    });
    expect(named).toMatchObject({ created: false, job: { id: job.id } });
  });

  it("rejects at submit what cannot work, with the catalogue's codes", async () => {
    const base = { model: "lin", dataset: "points" };
    expect((await rejection({ ...base, model: "nope" })).code).toBe("MODEL_NOT_FOUND");
    expect((await rejection({ ...base, version: 9 })).code).toBe("VERSION_NOT_FOUND");
    expect((await rejection({ ...base, version: 99_999_999_999 })).code).toBe("VERSION_NOT_FOUND");
    expect((await rejection({ ...base, dataset: "nope" })).code).toBe("DATASET_NOT_FOUND");
    expect((await rejection({ ...base, datasetVersion: 7 })).code).toBe("DATASET_NOT_FOUND");
    const cases: Array<[SubmitScoringInput, RegExp]> = [
      [{ ...base, columns: { input: ["x1", "x2"] } }, /takes 4 columns per row, 2 given/],
      [{ ...base, columns: { features: ["x1", "x2", "x3", "x4"] } }, /no input "features"/],
      [{ ...base, columns: { input: ["x1", "x2", "x3", "x9"] } }, /no column "x9"/],
      [{ ...base, columns: { input: ["id", "x2", "x3", "x4"] } }, /column "id" holds string values/],
      [{ ...base, passthrough: ["ident"] }, /no column "ident"/],
      [{ ...base, passthrough: ["x1"] }, /4 columns but the dataset has 3 numeric columns/],
      [{ ...base, batchRows: 0 }, /must be an integer from 1 to/],
    ];
    for (const [input, message] of cases) {
      const error = await rejection(input);
      expect(error.code, JSON.stringify(input)).toBe("VALIDATION_FAILED");
      const issues = (error.details?.issues ?? []) as Array<{ message: string }>;
      expect(issues.map((i) => i.message).join("\n"), JSON.stringify(input)).toMatch(message);
    }
    await dataset("wide", "id,x1,x2,x3,x4,label\na,1,2,3,4,5\n");
    const wide = await rejection({ model: "lin", dataset: "wide" });
    expect(wide.message).toMatch(/5 numeric columns besides the passthrough ones \(x1, x2, x3, x4, label\)/);
    // The inference server serves one project; another project's request says so.
    expect((await rejection(base, "other")).code).toBe("VALIDATION_FAILED");
  });

  it("fails a job on a missing value with its line and column, or skips and counts such rows", async () => {
    // Data row 4 is file line 6 (the header is line 1).
    await dataset(
      "holes",
      csv(600, (row, cells) => (row === 4 ? cells.map((c, i) => (i === 3 ? "" : c)) : cells)),
    );
    const failing = await scoring.submit(DEFAULT_PROJECT, {
      model: "lin",
      dataset: "holes",
      passthrough: ["id"],
    });
    const failed = await finished(failing.job.id);
    expect(failed.status).toBe("failed");
    expect(failed.attempts).toBe(1);
    expect(failed.error).toMatch(/^line 6, column "x3": a missing value; fix the file/);
    expect((await rejectionOf(scoring.output(DEFAULT_PROJECT, failing.job.id))).code).toBe("CONFLICT");

    const skipping = await scoring.submit(DEFAULT_PROJECT, {
      model: "lin",
      dataset: "holes",
      passthrough: ["id"],
      onInvalidRow: "skip",
      batchRows: 100,
    });
    const skipped = await finished(skipping.job.id);
    expect(skipped).toMatchObject({ status: "succeeded", rowsDone: 600, rowsSkipped: 1 });
    expect(skipped.output?.rows).toBe(599);
    expect(skipped.invalidRows).toEqual([{ line: 6, column: "x3", value: "", reason: "missing value" }]);
    const rows = Array.from({ length: 600 }, (_, r) => r).filter((r) => r !== 4);
    expectScores(await text((await scoring.output(DEFAULT_PROJECT, skipping.job.id)).body), V1, rows);

    // Resubmitting a failed request is a new job, not the failed one.
    const again = await scoring.submit(DEFAULT_PROJECT, {
      model: "lin",
      dataset: "holes",
      passthrough: ["id"],
    });
    expect(again.created).toBe(true);
    expect(again.job.id).not.toBe(failing.job.id);
    await finished(again.job.id);
  });

  it("starts a retried attempt over and publishes one complete file", async () => {
    knobs.calls = 0;
    knobs.failAtCall = 3;
    const { job } = await scoring.submit(DEFAULT_PROJECT, {
      model: "lin",
      dataset: "small",
      passthrough: ["id"],
      batchRows: 120,
    });
    const done = await finished(job.id);
    knobs.failAtCall = -1;
    expect(done).toMatchObject({ status: "succeeded", attempts: 2, rowsDone: SMALL });
    expectScores(
      await text((await scoring.output(DEFAULT_PROJECT, job.id)).body),
      V1,
      Array.from({ length: SMALL }, (_, r) => r),
    );
  });

  it("turns identical submissions at the same moment into one job", async () => {
    const request = { model: "lin", dataset: "small", passthrough: ["id"], batchRows: 303 };
    const results = await Promise.all([1, 2, 3].map(() => scoring.submit(DEFAULT_PROJECT, request)));
    expect(results.map((r) => r.created).sort()).toEqual([false, false, true]);
    const id = results[0]?.job.id as string;
    expect(results.every((r) => r.job.id === id)).toBe(true);
    expect((await finished(id)).status).toBe("succeeded");
    expect(await runsOf(id)).toHaveLength(1);
  });

  it("leaves no run behind when recording it fails, and the retry records exactly one", async () => {
    const fault = await failWrites(store, "run_artifacts", { when: FIRST_ATTEMPT });
    try {
      const { job } = await scoring.submit(DEFAULT_PROJECT, {
        model: "lin",
        dataset: "small",
        passthrough: ["id"],
        batchRows: 301,
      });
      const done = await finished(job.id);
      expect(done).toMatchObject({ status: "succeeded", attempts: 2 });
      const runs = await runsOf(job.id);
      expect(runs.map((run) => run.status)).toEqual(["finished"]);
      expect(done.runId).toBe(runs[0]?.id);
      expect(runs[0]?.artifacts.map((a) => a.digest)).toEqual([done.output?.digest]);
    } finally {
      await fault.remove();
    }
  });

  it("gives a retry the run an attempt recorded before it died without completing the job", async () => {
    // The first attempt records its run, then cannot complete the job, as if it crashed right there: its
    // lease runs out and another attempt scores again.
    const fault = await failWrites(store, "jobs", {
      on: "update",
      when: "NEW.kind = 'inference.score' AND NEW.status = 'succeeded' AND NEW.attempts = 1",
    });
    try {
      const { job } = await scoring.submit(DEFAULT_PROJECT, {
        model: "lin",
        dataset: "small",
        passthrough: ["id"],
        batchRows: 302,
      });
      let recorded: Run | undefined;
      await vi.waitFor(async () => {
        [recorded] = await runsOf(job.id);
        expect(recorded?.status).toBe("finished");
      }, WAIT);
      const done = await finished(job.id);
      expect(done).toMatchObject({ status: "succeeded", attempts: 2, runId: recorded?.id });
      expect((await runsOf(job.id)).map((run) => run.id)).toEqual([recorded?.id]);
      expect(done.output?.digest).toBe(recorded?.artifacts[0]?.digest);
    } finally {
      await fault.remove();
    }
  });

  it("cancels a running job: it stops scoring and publishes nothing", async () => {
    knobs.delayMs = 40;
    const { job } = await scoring.submit(DEFAULT_PROJECT, {
      model: "lin",
      dataset: "small",
      passthrough: ["id"],
      batchRows: 50,
    });
    await vi.waitFor(async () => {
      expect((await scoring.get(DEFAULT_PROJECT, job.id)).rowsDone).toBeGreaterThan(0);
    }, WAIT);
    const cancelled = await scoring.cancel(DEFAULT_PROJECT, job.id);
    expect(cancelled.status).toBe("cancelled");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const calls = knobs.calls;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(knobs.calls).toBe(calls);
    knobs.delayMs = 0;
    const after = await scoring.get(DEFAULT_PROJECT, job.id);
    expect(after.status).toBe("cancelled");
    expect(after.rowsDone).toBeLessThan(SMALL);
    expect(after.output).toBeUndefined();
    expect((await rejectionOf(scoring.output(DEFAULT_PROJECT, job.id))).code).toBe("CONFLICT");
    // Cancelling again answers with the job as it is.
    expect((await scoring.cancel(DEFAULT_PROJECT, job.id)).status).toBe("cancelled");
    expect((await rejectionOf(scoring.get(DEFAULT_PROJECT, "job_nope"))).code).toBe("SCORING_JOB_NOT_FOUND");
    expect((await rejectionOf(scoring.get("other", job.id))).code).toBe("SCORING_JOB_NOT_FOUND");
  });

  it("serves the jobs over HTTP: submit, progress, output as text/csv, cancel, errors in the envelope", async () => {
    const url = "/api/v1/projects/default/scoring-jobs";
    await app.ready();
    const doc = app.swagger() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/api/v1/projects/{project}/scoring-jobs",
        "/api/v1/projects/{project}/scoring-jobs/{id}",
        "/api/v1/projects/{project}/scoring-jobs/{id}/output",
        "/api/v1/projects/{project}/scoring-jobs/{id}/cancel",
      ]),
    );
    const payload = {
      model: "lin",
      dataset: "small",
      datasetVersion: 1,
      passthrough: ["id"],
      batchRows: 250,
    };
    const submitted = await app.inject({ method: "POST", url, payload });
    expect(submitted.statusCode, submitted.body).toBe(202);
    const id = submitted.json().id as string;
    expect((await app.inject({ method: "POST", url, payload })).statusCode).toBe(200);
    await finished(id);
    const status = await app.inject({ method: "GET", url: `${url}/${id}` });
    expect(status.json()).toMatchObject({ id, status: "succeeded", rowsDone: SMALL, rowsTotal: SMALL });
    const output = await app.inject({ method: "GET", url: `${url}/${id}/output` });
    expect(output.statusCode).toBe(200);
    expect(output.headers["content-type"]).toMatch(/^text\/csv/);
    expectScores(
      output.body,
      V1,
      Array.from({ length: SMALL }, (_, r) => r),
    );

    const bad = await app.inject({
      method: "POST",
      url,
      payload: { ...payload, columns: { input: ["x1"] } },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe("VALIDATION_FAILED");
    const unknown = await app.inject({ method: "GET", url: `${url}/job_nope` });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe("SCORING_JOB_NOT_FOUND");

    knobs.delayMs = 30;
    const slow = await app.inject({ method: "POST", url, payload: { ...payload, batchRows: 50 } });
    const slowId = slow.json().id as string;
    const early = await app.inject({ method: "GET", url: `${url}/${slowId}/output` });
    expect(early.statusCode).toBe(409);
    expect(early.json().error.code).toBe("CONFLICT");
    const cancel = await app.inject({ method: "POST", url: `${url}/${slowId}/cancel` });
    expect(cancel.json().status).toBe("cancelled");
    knobs.delayMs = 0;
  });
});

async function rejectionOf(promise: Promise<unknown>): Promise<SkalaError> {
  return (await promise.then(
    () => expect.unreachable("should have failed"),
    (error: unknown) => error,
  )) as SkalaError;
}
