import { type Clock, decodeCursor, encodeCursor, newId, SkalaError } from "../core/index.js";
import {
  type Executor,
  inTransaction,
  literalLimit,
  type RunsTable,
  type SqlDialect,
  type Store,
} from "../store/index.js";
import type { ArtifactService } from "./artifact.service.js";
import { groupKeyValues } from "./key-values.js";
import type { ProjectResolver } from "./project-resolver.js";
import type { AttachArtifactInput, CreateRunInput, LogMetricsInput, RunStatus } from "./registry.schemas.js";
import type { Page, Run, RunMetric } from "./registry.types.js";
import { insertChunked } from "./versions.repository.js";

export class RunService {
  private readonly db: Executor;
  /** Reads that belong to no transaction; on a file-backed SQLite store they do not wait behind a write. */
  private readonly readDb: Executor;
  private readonly dialect: SqlDialect;

  constructor(
    store: Pick<Store, "db" | "readDb" | "sqlDialect">,
    private readonly projects: ProjectResolver,
    private readonly artifacts: ArtifactService,
    private readonly clock: Clock,
    private readonly pageSizeMax: number,
  ) {
    this.db = store.db;
    this.readDb = store.readDb;
    this.dialect = store.sqlDialect;
  }

  async create(project: string, input: CreateRunInput, db: Executor = this.db): Promise<Run> {
    const projectId = await this.projects.idOf(project, db);
    const now = this.clock.now();
    const id = newId("run", now);
    await inTransaction(db, async (trx) => {
      await trx
        .insertInto("runs")
        .values({
          id,
          project_id: projectId,
          name: input.name ?? id,
          status: "running",
          started_at: now.toISOString(),
          ended_at: null,
          source_ref: input.sourceRef ?? null,
        })
        .execute();
      await insertChunked(
        trx,
        "run_params",
        Object.entries(input.params ?? {}).map(([key, value]) => ({ run_id: id, key, value })),
      );
    });
    return this.get(project, id, db);
  }

  /**
   * The project's run whose `sourceRef` is `input.sourceRef`, created as `create` would only when there is
   * none: one run per source however often its producer retries (a job attempt after a crash), even when
   * attempts race, since they queue on a lock of the source.
   */
  async ensure(
    project: string,
    input: CreateRunInput & { sourceRef: string },
    db: Executor = this.db,
  ): Promise<{ run: Run; created: boolean }> {
    const projectId = await this.projects.idOf(project, db);
    return inTransaction(db, async (trx) => {
      await this.dialect.lockKey(trx, `run:${projectId}:${input.sourceRef}`);
      const existing = await trx
        .selectFrom("runs")
        .select("id")
        .where("project_id", "=", projectId)
        .where("source_ref", "=", input.sourceRef)
        .orderBy("id")
        .executeTakeFirst();
      if (existing) return { run: await this.get(project, existing.id, trx), created: false };
      return { run: await this.create(project, input, trx), created: true };
    });
  }

  private async row(project: string, runId: string, db: Executor): Promise<RunsTable> {
    const projectId = await this.projects.idOf(project, db);
    const row = await db
      .selectFrom("runs")
      .selectAll()
      .where("id", "=", runId)
      .where("project_id", "=", projectId)
      .executeTakeFirst();
    if (!row)
      throw new SkalaError("RUN_NOT_FOUND", `run "${runId}" does not exist in project "${project}"`, {
        project,
        run: runId,
      });
    return row;
  }

  private async runningRow(project: string, runId: string, db: Executor): Promise<RunsTable> {
    const row = await this.row(project, runId, db);
    if (row.status !== "running") {
      throw new SkalaError(
        "RUN_FINISHED",
        `run "${runId}" has finished (${row.status}) and can no longer change`,
        {
          run: runId,
          status: row.status,
        },
      );
    }
    return row;
  }

  async get(project: string, runId: string, db: Executor = this.readDb): Promise<Run> {
    const [run] = await this.hydrate(project, [await this.row(project, runId, db)], db);
    return run as Run;
  }

  private async hydrate(project: string, rows: RunsTable[], db: Executor): Promise<Run[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const [params, metrics, artifacts] = await Promise.all([
      db
        .selectFrom("run_params")
        .select(["run_id as owner", "key", "value"])
        .where("run_id", "in", ids)
        .execute(),
      // The latest value per key: the row with the highest step, then the latest logged.
      db
        .selectFrom("run_metrics")
        .select(["run_id as owner", "key", "value", "step", "seq"])
        .where("run_id", "in", ids)
        .orderBy("step")
        .orderBy("seq")
        .execute(),
      db.selectFrom("run_artifacts").selectAll().where("run_id", "in", ids).orderBy("name").execute(),
    ]);
    const paramsBy = groupKeyValues(params);
    const metricsBy = groupKeyValues(metrics);
    return rows.map((row) => ({
      id: row.id,
      project,
      name: row.name,
      status: row.status as RunStatus,
      startedAt: row.started_at,
      endedAt: row.ended_at,
      sourceRef: row.source_ref,
      params: paramsBy.get(row.id) ?? {},
      latestMetrics: metricsBy.get(row.id) ?? {},
      artifacts: artifacts
        .filter((a) => a.run_id === row.id)
        .map((a) => ({ name: a.name, digest: a.digest, size: a.size, createdAt: a.created_at })),
    }));
  }

  async list(
    project: string,
    options: { limit?: number; cursor?: string } = {},
    db: Executor = this.readDb,
  ): Promise<Page<Run>> {
    const projectId = await this.projects.idOf(project, db);
    const limit = Math.min(options.limit ?? 100, this.pageSizeMax);
    const fingerprint = JSON.stringify(["runs", project]);
    const after = options.cursor ? decodeCursor(options.cursor, fingerprint) : undefined;
    let q = db.selectFrom("runs").selectAll().where("project_id", "=", projectId);
    if (after) q = q.where("id", "<", after.id);
    const rows = await q
      .orderBy("id", "desc")
      .limit(literalLimit(limit + 1))
      .execute();
    const hasMore = rows.length > limit;
    const items = await this.hydrate(project, hasMore ? rows.slice(0, limit) : rows, db);
    const last = items[items.length - 1];
    return {
      items,
      nextCursor: hasMore && last ? encodeCursor({ key: last.id, id: last.id }, fingerprint) : null,
    };
  }

  /** Params are write-once per key, as in every experiment tracker: a changed value is a new run. */
  async logParams(
    project: string,
    runId: string,
    params: Record<string, string>,
    db: Executor = this.db,
  ): Promise<Run> {
    await this.runningRow(project, runId, db);
    await inTransaction(db, async (trx) => {
      const existing = await trx
        .selectFrom("run_params")
        .select(["key", "value"])
        .where("run_id", "=", runId)
        .where("key", "in", Object.keys(params).length > 0 ? Object.keys(params) : [""])
        .execute();
      const conflicts = existing.filter((row) => params[row.key] !== row.value);
      if (conflicts.length > 0) {
        throw new SkalaError(
          "CONFLICT",
          `param "${conflicts[0]?.key}" was already logged with another value`,
          {
            keys: conflicts.map((c) => c.key),
          },
        );
      }
      const known = new Set(existing.map((row) => row.key));
      await insertChunked(
        trx,
        "run_params",
        Object.entries(params)
          .filter(([key]) => !known.has(key))
          .map(([key, value]) => ({ run_id: runId, key, value })),
      );
    });
    return this.get(project, runId, db);
  }

  async logMetrics(
    project: string,
    runId: string,
    input: LogMetricsInput,
    db: Executor = this.db,
  ): Promise<{ logged: number }> {
    await this.runningRow(project, runId, db);
    const now = this.clock.now().toISOString();
    await inTransaction(db, (trx) =>
      insertChunked(
        trx,
        "run_metrics",
        input.metrics.map((m) => ({
          run_id: runId,
          key: m.key,
          value: m.value,
          step: m.step ?? 0,
          timestamp: m.timestamp ? new Date(m.timestamp).toISOString() : now,
        })),
        2_000,
      ),
    );
    return { logged: input.metrics.length };
  }

  async metricHistory(
    project: string,
    runId: string,
    key: string,
    db: Executor = this.readDb,
  ): Promise<RunMetric[]> {
    await this.row(project, runId, db);
    const rows = await db
      .selectFrom("run_metrics")
      .select(["key", "value", "step", "timestamp"])
      .where("run_id", "=", runId)
      .where("key", "=", key)
      .orderBy("step")
      .orderBy("seq")
      .execute();
    return rows;
  }

  async attachArtifact(
    project: string,
    runId: string,
    input: AttachArtifactInput,
    db: Executor = this.db,
  ): Promise<Run> {
    await this.runningRow(project, runId, db);
    const size = await this.artifacts.sizeOf(input.digest, db);
    await db
      .insertInto("run_artifacts")
      .values({
        run_id: runId,
        name: input.name,
        digest: input.digest,
        size,
        created_at: this.clock.now().toISOString(),
      })
      .onConflict((oc) => oc.columns(["run_id", "name"]).doUpdateSet({ digest: input.digest, size }))
      .execute();
    return this.get(project, runId, db);
  }

  async finish(
    project: string,
    runId: string,
    status: Exclude<RunStatus, "running">,
    db: Executor = this.db,
  ): Promise<Run> {
    await this.runningRow(project, runId, db);
    await db
      .updateTable("runs")
      .set({ status, ended_at: this.clock.now().toISOString() })
      .where("id", "=", runId)
      .where("status", "=", "running")
      .execute();
    return this.get(project, runId, db);
  }
}
