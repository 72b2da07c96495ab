import type { Insertable, Selectable } from "kysely";
import type { Executor, JobsTable, SqlDialect } from "../store/index.js";
import { inTransaction, literalLimit } from "../store/index.js";
import type { GroupProgress, Job, JobStatus } from "./jobs.types.js";
import { JOB_STATUSES } from "./jobs.types.js";

/** Rows per INSERT: 18 columns × 500 stays far below both SQLite's and PostgreSQL's bound-parameter limits. */
const INSERT_CHUNK = 500;
const LOOKUP_CHUNK = 1000;

/** A row as the service builds it for insertion: every column but the generated `seq`. */
export type NewJobRow = Required<Omit<Insertable<JobsTable>, "seq">>;

function parseJson(text: string | null): unknown {
  return text === null ? null : JSON.parse(text);
}

function toJob(row: NewJobRow | Selectable<JobsTable>): Job {
  return {
    id: row.id,
    kind: row.kind,
    idempotencyKey: row.idempotency_key,
    groupId: row.group_id,
    payload: parseJson(row.payload),
    status: row.status as JobStatus,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    runAfter: row.run_after,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    heartbeatAt: row.heartbeat_at,
    result: parseJson(row.result),
    lastError: row.last_error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    progress: parseJson(row.progress),
  };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Kysely reports affected rows as bigint. */
const changed = (result: { numUpdatedRows: bigint }) => result.numUpdatedRows > 0n;

/**
 * The jobs table. Every state change after the claim is guarded by `lease_owner` and `status = 'running'`, so a
 * worker that lost its lease (cancelled, or reclaimed after it stalled) can never overwrite the new state.
 */
export class JobsRepository {
  constructor(
    private readonly db: Executor,
    /** Claimers skip rows another claimer has locked (PostgreSQL) instead of waiting for them. */
    private readonly dialect: SqlDialect,
  ) {}

  /**
   * Inserts rows whose idempotency key is new, in one transaction (the caller's, when `db` is one); returns the
   * stored row for every input (the existing one where the key was taken) and how many were inserted. Keys are
   * unique within `rows`.
   */
  async insertMany(
    rows: readonly NewJobRow[],
    db: Executor = this.db,
  ): Promise<{ jobs: Job[]; created: number }> {
    return inTransaction(db, async (trx) => {
      const inserted = new Set<string>();
      for (const chunk of chunks(rows, INSERT_CHUNK)) {
        const returned = await trx
          .insertInto("jobs")
          .values(chunk)
          .onConflict((oc) => oc.column("idempotency_key").doNothing())
          .returning("id")
          .execute();
        for (const r of returned) inserted.add(r.id);
      }
      const existingByKey = new Map<string, Selectable<JobsTable>>();
      const missingKeys = rows
        .filter((r) => !inserted.has(r.id) && r.idempotency_key !== null)
        .map((r) => r.idempotency_key as string);
      for (const chunk of chunks(missingKeys, LOOKUP_CHUNK)) {
        const found = await trx
          .selectFrom("jobs")
          .selectAll()
          .where("idempotency_key", "in", chunk)
          .execute();
        for (const row of found) existingByKey.set(row.idempotency_key as string, row);
      }
      const jobs = rows.map((row) => {
        if (inserted.has(row.id)) return toJob(row);
        const existing = existingByKey.get(row.idempotency_key ?? "");
        // Only a key conflict skips an insert; the row it conflicted with is visible to this transaction.
        if (!existing) throw new Error(`job ${row.id} was neither inserted nor found by its key`);
        return toJob(existing);
      });
      return { jobs, created: inserted.size };
    });
  }

  /**
   * One statement: pick due queued jobs and expired running ones (attempts left), lock them (skipping rows
   * another claimer holds on PostgreSQL; SQLite serialises writers), and lease them to `owner`.
   */
  async claim(
    input: {
      owner: string;
      kinds: readonly string[] | undefined;
      limit: number;
      now: string;
      leaseExpiresAt: string;
    },
    db: Executor = this.db,
  ): Promise<Job[]> {
    const { owner, kinds, now, leaseExpiresAt } = input;
    const rows = await db
      .with(
        (cte) => cte("picked").materialized(),
        (qb) =>
          this.dialect.forUpdateSkipLocked(
            qb
              .selectFrom("jobs")
              .select("id")
              .where((eb) =>
                eb.or([
                  eb.and([eb("status", "=", "queued"), eb("run_after", "<=", now)]),
                  eb.and([
                    eb("status", "=", "running"),
                    eb("lease_expires_at", "<=", now),
                    eb("attempts", "<", eb.ref("max_attempts")),
                  ]),
                ]),
              )
              .$if(kinds !== undefined, (q) => q.where("kind", "in", kinds as string[]))
              .orderBy("run_after")
              .orderBy("seq")
              .limit(literalLimit(input.limit)),
          ),
      )
      .updateTable("jobs")
      .set((eb) => ({
        status: "running",
        lease_owner: owner,
        lease_expires_at: leaseExpiresAt,
        heartbeat_at: now,
        attempts: eb("attempts", "+", 1),
        started_at: eb.fn.coalesce("started_at", eb.val(now)),
        updated_at: now,
        // Progress belongs to an attempt: a retried job starts over.
        progress: null,
      }))
      .where("id", "in", (eb) => eb.selectFrom("picked").select("picked.id"))
      .returningAll()
      .execute();
    rows.sort((a, b) => a.run_after.localeCompare(b.run_after) || a.seq - b.seq);
    return rows.map(toJob);
  }

  /** Running jobs whose lease expired on their last allowed attempt fail: a worker died on them every time. */
  async failExpired(now: string, db: Executor = this.db): Promise<number> {
    const result = await db
      .with(
        (cte) => cte("expired").materialized(),
        (qb) =>
          this.dialect.forUpdateSkipLocked(
            qb
              .selectFrom("jobs")
              .select("id")
              .where("status", "=", "running")
              .where("lease_expires_at", "<=", now)
              .where((eb) => eb("attempts", ">=", eb.ref("max_attempts"))),
          ),
      )
      .updateTable("jobs")
      .set({
        status: "failed",
        last_error: "lease expired on the last attempt: the worker stopped without finishing",
        lease_expires_at: null,
        finished_at: now,
        updated_at: now,
      })
      .where("id", "in", (eb) => eb.selectFrom("expired").select("expired.id"))
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async heartbeat(
    input: {
      id: string;
      owner: string;
      now: string;
      leaseExpiresAt: string;
    },
    db: Executor = this.db,
  ): Promise<boolean> {
    const result = await db
      .updateTable("jobs")
      .set({ lease_expires_at: input.leaseExpiresAt, heartbeat_at: input.now, updated_at: input.now })
      .where("id", "=", input.id)
      .where("lease_owner", "=", input.owner)
      .where("status", "=", "running")
      .executeTakeFirst();
    return changed(result);
  }

  async reportProgress(
    input: {
      id: string;
      owner: string;
      now: string;
      progress: string;
    },
    db: Executor = this.db,
  ): Promise<boolean> {
    const result = await db
      .updateTable("jobs")
      .set({ progress: input.progress, updated_at: input.now })
      .where("id", "=", input.id)
      .where("lease_owner", "=", input.owner)
      .where("status", "=", "running")
      .executeTakeFirst();
    return changed(result);
  }

  async finish(
    input: {
      id: string;
      owner: string;
      now: string;
      status: "succeeded" | "failed";
      result: string | null;
      error: string | null;
    },
    db: Executor = this.db,
  ): Promise<boolean> {
    const result = await db
      .updateTable("jobs")
      .set({
        status: input.status,
        result: input.result,
        last_error: input.error,
        lease_expires_at: null,
        finished_at: input.now,
        updated_at: input.now,
      })
      .where("id", "=", input.id)
      .where("lease_owner", "=", input.owner)
      .where("status", "=", "running")
      .executeTakeFirst();
    return changed(result);
  }

  /**
   * Back to queued, not before `runAfter`. `attempts` guards against a reclaim between the caller's read and
   * this write; `countAttempt: false` gives the attempt back (a graceful shutdown is not the job's fault).
   */
  async requeue(
    input: {
      id: string;
      owner: string;
      attempts: number;
      now: string;
      runAfter: string;
      error: string | null;
      countAttempt: boolean;
    },
    db: Executor = this.db,
  ): Promise<boolean> {
    const result = await db
      .updateTable("jobs")
      .set((eb) => ({
        status: "queued",
        lease_owner: null,
        lease_expires_at: null,
        run_after: input.runAfter,
        updated_at: input.now,
        ...(input.error === null ? {} : { last_error: input.error }),
        ...(input.countAttempt ? {} : { attempts: eb("attempts", "-", 1) }),
      }))
      .where("id", "=", input.id)
      .where("lease_owner", "=", input.owner)
      .where("status", "=", "running")
      .where("attempts", "=", input.attempts)
      .executeTakeFirst();
    return changed(result);
  }

  async findOwned(id: string, owner: string, db: Executor = this.db): Promise<Job | undefined> {
    const row = await db
      .selectFrom("jobs")
      .selectAll()
      .where("id", "=", id)
      .where("lease_owner", "=", owner)
      .where("status", "=", "running")
      .executeTakeFirst();
    return row && toJob(row);
  }

  async cancel(
    filter: { groupId: string } | { id: string },
    now: string,
    db: Executor = this.db,
  ): Promise<number> {
    const result = await db
      .updateTable("jobs")
      .set({ status: "cancelled", lease_expires_at: null, finished_at: now, updated_at: now })
      .$if("groupId" in filter, (q) => q.where("group_id", "=", (filter as { groupId: string }).groupId))
      .$if("id" in filter, (q) => q.where("id", "=", (filter as { id: string }).id))
      .where("status", "in", ["queued", "running"])
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async findById(id: string): Promise<Job | undefined> {
    const row = await this.db.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toJob(row);
  }

  async list(filter: { groupId?: string; kind?: string; status?: JobStatus; limit: number }): Promise<Job[]> {
    const rows = await this.db
      .selectFrom("jobs")
      .selectAll()
      .$if(filter.groupId !== undefined, (q) => q.where("group_id", "=", filter.groupId as string))
      .$if(filter.kind !== undefined, (q) => q.where("kind", "=", filter.kind as string))
      .$if(filter.status !== undefined, (q) => q.where("status", "=", filter.status as JobStatus))
      .orderBy("seq")
      .limit(literalLimit(filter.limit))
      .execute();
    return rows.map(toJob);
  }

  /** Counts and timestamps of one group; rate and ETA are the service's arithmetic. */
  async groupCounts(
    groupId: string,
  ): Promise<Omit<GroupProgress, "ratePerSecond" | "etaSeconds" | "groupId" | "done">> {
    const rows = await this.db
      .selectFrom("jobs")
      .select((eb) => [
        "status",
        eb.fn.countAll<number>().as("count"),
        eb.fn.min("created_at").as("first_created_at"),
        eb.fn.min("started_at").as("first_started_at"),
        eb.fn.max("finished_at").as("last_finished_at"),
      ])
      .where("group_id", "=", groupId)
      .groupBy("status")
      .execute();
    const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
    let firstCreatedAt: string | null = null;
    let firstStartedAt: string | null = null;
    let lastFinishedAt: string | null = null;
    const earlier = (a: string | null, b: string | null) => (a === null || (b !== null && b < a) ? b : a);
    const later = (a: string | null, b: string | null) => (a === null || (b !== null && b > a) ? b : a);
    let total = 0;
    for (const row of rows) {
      const count = Number(row.count);
      counts[row.status as JobStatus] = count;
      total += count;
      firstCreatedAt = earlier(firstCreatedAt, row.first_created_at);
      firstStartedAt = earlier(firstStartedAt, row.first_started_at);
      lastFinishedAt = later(lastFinishedAt, row.last_finished_at);
    }
    return { total, counts, firstCreatedAt, firstStartedAt, lastFinishedAt };
  }
}
