import type { Executor, FleetRunsTable, FleetSegmentsTable } from "../store/index.js";
import type { FleetRun, FleetRunStatus, SegmentStatus } from "./fleet.types.js";

export interface StoredRun extends FleetRun {
  fleetId: string;
  idempotencyKey: string;
  spec: string;
  plan: string;
  datasetDigest: string;
  chunkSize: number;
  trainCpuMs: number;
  peakRssMb: number;
}

function toRun(row: FleetRunsTable & { fleet_name: string; project_name: string }): StoredRun {
  return {
    id: row.id,
    fleet: row.fleet_name,
    project: row.project_name,
    fleetId: row.fleet_id,
    status: row.status as FleetRunStatus,
    total: row.total,
    datasetVersionId: row.dataset_version_id,
    datasetDigest: row.dataset_digest,
    atomic: row.atomic === 1,
    error: row.error,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    idempotencyKey: row.idempotency_key,
    spec: row.spec,
    plan: row.plan,
    chunkSize: row.chunk_size,
    trainCpuMs: row.train_cpu_ms,
    peakRssMb: row.peak_rss_mb,
  };
}

export interface SegmentRecord {
  seriesId: string;
  chunk: number;
  status: SegmentStatus;
  reason: string | null;
  message: string | null;
  model: string | null;
  winner: string | null;
  version: number | null;
  gatePassed: boolean | null;
  metrics: Record<string, number>;
  stateDigest: string | null;
  fitMs: number;
}

export class FleetRepository {
  constructor(private readonly db: Executor) {}

  /** Finds or creates the fleet row; the spec text is updated to the latest submitted one. */
  async upsertFleet(
    input: { id: string; projectId: string; name: string; spec: string; at: string },
    db: Executor = this.db,
  ) {
    await db
      .insertInto("fleets")
      .values({
        id: input.id,
        project_id: input.projectId,
        name: input.name,
        spec: input.spec,
        created_at: input.at,
        updated_at: input.at,
      })
      .onConflict((oc) =>
        oc.columns(["project_id", "name"]).doUpdateSet({ spec: input.spec, updated_at: input.at }),
      )
      .execute();
    return db
      .selectFrom("fleets")
      .select(["id", "name"])
      .where("project_id", "=", input.projectId)
      .where("name", "=", input.name)
      .executeTakeFirstOrThrow();
  }

  private runQuery(db: Executor = this.db) {
    return db
      .selectFrom("fleet_runs as r")
      .innerJoin("fleets as f", "f.id", "r.fleet_id")
      .innerJoin("projects as p", "p.id", "f.project_id")
      .selectAll("r")
      .select(["f.name as fleet_name", "p.name as project_name"]);
  }

  async runById(id: string, db: Executor = this.db): Promise<StoredRun | undefined> {
    const row = await this.runQuery(db).where("r.id", "=", id).executeTakeFirst();
    return row && toRun(row);
  }

  /**
   * The latest run submitted under `key`: the first holds the key itself, each resubmission after a failed or
   * cancelled run holds `key:<its own id>`.
   */
  async latestRunOfKey(key: string, db: Executor = this.db): Promise<StoredRun | undefined> {
    const family = `${key}:`;
    const row = await this.runQuery(db)
      .where((eb) =>
        eb.or([
          eb("r.idempotency_key", "=", key),
          // substr is exact in both dialects, unlike LIKE (wildcards; case folding on SQLite).
          eb(eb.fn("substr", ["r.idempotency_key", eb.val(1), eb.val(family.length)]), "=", family),
        ]),
      )
      .orderBy("r.created_at", "desc")
      .orderBy("r.id", "desc")
      .executeTakeFirst();
    return row && toRun(row);
  }

  async latestRun(projectId: string, fleet: string, db: Executor = this.db): Promise<StoredRun | undefined> {
    const row = await this.runQuery(db)
      .where("f.project_id", "=", projectId)
      .where("f.name", "=", fleet)
      .orderBy("r.created_at", "desc")
      .orderBy("r.id", "desc")
      .executeTakeFirst();
    return row && toRun(row);
  }

  async listFleets(projectId: string, db: Executor = this.db) {
    return db
      .selectFrom("fleets")
      .select(["id", "name", "created_at", "updated_at"])
      .where("project_id", "=", projectId)
      .orderBy("name")
      .execute();
  }

  async insertRun(row: FleetRunsTable, db: Executor = this.db): Promise<void> {
    await db.insertInto("fleet_runs").values(row).execute();
  }

  /** A queued run becomes running at its first job; true when this call did it. */
  async markStarted(id: string, at: string, db: Executor = this.db): Promise<boolean> {
    const result = await db
      .updateTable("fleet_runs")
      .set({ status: "running", started_at: at })
      .where("id", "=", id)
      .where("status", "=", "queued")
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Moves a run to a terminal status unless it already has one; true when this call did it. */
  async finishRun(
    id: string,
    status: FleetRunStatus,
    at: string,
    error: string | null,
    db: Executor = this.db,
  ): Promise<boolean> {
    const result = await db
      .updateTable("fleet_runs")
      .set({ status, finished_at: at, error })
      .where("id", "=", id)
      .where("status", "in", ["queued", "running"])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async addResources(id: string, cpuMs: number, rssMb: number, db: Executor = this.db): Promise<void> {
    await db
      .updateTable("fleet_runs")
      .set((eb) => ({
        train_cpu_ms: eb("train_cpu_ms", "+", cpuMs),
        // CASE, not max(): PostgreSQL has no two-argument max (it is greatest there).
        peak_rss_mb: eb.case().when("peak_rss_mb", "<", rssMb).then(rssMb).else(eb.ref("peak_rss_mb")).end(),
      }))
      .where("id", "=", id)
      .execute();
  }

  async insertSegments(
    runId: string,
    segments: SegmentRecord[],
    at: string,
    db: Executor = this.db,
  ): Promise<void> {
    const rows: FleetSegmentsTable[] = segments.map((s) => ({
      run_id: runId,
      series_id: s.seriesId,
      chunk: s.chunk,
      status: s.status,
      reason: s.reason,
      message: s.message,
      model: s.model,
      winner: s.winner,
      version: s.version,
      gate_passed: s.gatePassed === null ? null : s.gatePassed ? 1 : 0,
      metrics: JSON.stringify(s.metrics),
      state_digest: s.stateDigest,
      fit_ms: s.fitMs,
      created_at: at,
    }));
    for (let start = 0; start < rows.length; start += 500) {
      await db
        .insertInto("fleet_segments")
        .values(rows.slice(start, start + 500))
        .execute();
    }
  }

  async markRegistered(
    runId: string,
    versions: Array<{ seriesId: string; version: number }>,
    db: Executor = this.db,
  ): Promise<void> {
    for (const v of versions) {
      await db
        .updateTable("fleet_segments")
        .set({ status: "registered", version: v.version })
        .where("run_id", "=", runId)
        .where("series_id", "=", v.seriesId)
        .execute();
    }
  }

  async segmentIds(
    runId: string,
    seriesIds: readonly string[],
    db: Executor = this.db,
  ): Promise<Set<string>> {
    const found = new Set<string>();
    for (let start = 0; start < seriesIds.length; start += 1_000) {
      const rows = await db
        .selectFrom("fleet_segments")
        .select("series_id")
        .where("run_id", "=", runId)
        .where("series_id", "in", seriesIds.slice(start, start + 1_000))
        .execute();
      for (const row of rows) found.add(row.series_id);
    }
    return found;
  }

  async counts(runId: string, db: Executor = this.db): Promise<Record<SegmentStatus, number>> {
    const rows = await db
      .selectFrom("fleet_segments")
      .select(["status", (eb) => eb.fn.countAll<number>().as("n")])
      .where("run_id", "=", runId)
      .groupBy("status")
      .execute();
    const counts: Record<SegmentStatus, number> = { trained: 0, registered: 0, failed: 0 };
    for (const row of rows) counts[row.status as SegmentStatus] = Number(row.n);
    return counts;
  }

  async segments(runId: string, status?: SegmentStatus, db: Executor = this.db): Promise<SegmentRecord[]> {
    let q = db.selectFrom("fleet_segments").selectAll().where("run_id", "=", runId);
    if (status) q = q.where("status", "=", status);
    const rows = await q.orderBy("chunk").orderBy("series_id").execute();
    return rows.map((r) => ({
      seriesId: r.series_id,
      chunk: r.chunk,
      status: r.status as SegmentStatus,
      reason: r.reason,
      message: r.message,
      model: r.model,
      winner: r.winner,
      version: r.version,
      gatePassed: r.gate_passed === null ? null : r.gate_passed === 1,
      metrics: JSON.parse(r.metrics) as Record<string, number>,
      stateDigest: r.state_digest,
      fitMs: r.fit_ms,
    }));
  }
}
