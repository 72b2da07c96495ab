import { type SelectQueryBuilder, sql, type Transaction } from "kysely";
import type { Database } from "./schema.js";

export type DialectName = "sqlite" | "postgres";

/**
 * What repositories need to know about the SQL underneath, as operations rather than flags. SQLite runs one
 * writer at a time (a write transaction holds the database), so locks are no-ops there; PostgreSQL runs
 * transactions side by side, and these take the locks that make read-then-write sequences safe.
 */
export interface SqlDialect {
  readonly name: DialectName;
  /** Locks the selected rows until the transaction ends, so concurrent writers of them queue. */
  forUpdate<DB, TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>): SelectQueryBuilder<DB, TB, O>;
  /** As `forUpdate`, but passes over rows another transaction holds instead of waiting (job claimers). */
  forUpdateSkipLocked<DB, TB extends keyof DB, O>(
    query: SelectQueryBuilder<DB, TB, O>,
  ): SelectQueryBuilder<DB, TB, O>;
  /**
   * Holds a lock on `key` until `trx` ends: transactions that lock the same key run their check-then-insert
   * one after the other, even where no row exists yet to lock (an idempotent submission).
   */
  lockKey(trx: Transaction<Database>, key: string): Promise<void>;
}

export const sqliteDialect: SqlDialect = {
  name: "sqlite",
  forUpdate: (query) => query,
  forUpdateSkipLocked: (query) => query,
  // In one process, Kysely's single SQLite connection runs one transaction at a time. Across processes, WAL
  // refuses to upgrade a read snapshot that another writer has since changed (SQLITE_BUSY_SNAPSHOT), so a
  // racing check-then-insert fails instead of inserting twice.
  lockKey: async () => {},
};

export const postgresDialect: SqlDialect = {
  name: "postgres",
  forUpdate: (query) => query.forUpdate(),
  forUpdateSkipLocked: (query) => query.forUpdate().skipLocked(),
  async lockKey(trx, key) {
    // A transaction-scoped advisory lock on a 64-bit hash of the key: released at commit or rollback. A hash
    // collision only makes two unrelated transactions wait for each other.
    await sql`select pg_advisory_xact_lock(hashtextextended(${key}, 0))`.execute(trx);
  },
};
