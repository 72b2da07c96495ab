import { type RawBuilder, sql } from "kysely";

/**
 * LIMIT as an inline integer literal. SQLite plans `LIMIT ?` without knowing the bound and runs an indexed
 * lookup several times slower (measured: 64 µs against 17 µs through better-sqlite3), so limits, which are
 * validated integers, are written into the SQL instead of bound.
 */
export function literalLimit(limit: number): RawBuilder<number> {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`invalid LIMIT ${limit}`);
  return sql.lit(limit);
}
