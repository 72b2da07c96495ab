import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import type { Store } from "../database.js";

export interface WriteFault {
  /** Lets the writes through again. */
  remove(): Promise<void>;
}

/**
 * Makes the database refuse writes to `table` (a trigger that raises) until `remove()`: for a transaction
 * under test, exactly what a crash at that write looks like, since nothing it wrote commits. `when` narrows
 * it to the rows for which a boolean SQL expression holds; it may read `NEW` and query other tables
 * (`(select max(attempts) from jobs where status = 'running') = 1`). Test code only: the table and the
 * condition are written into the SQL as given.
 */
export async function failWrites(
  store: Store,
  table: string,
  options: { on?: "insert" | "update"; when?: string } = {},
): Promise<WriteFault> {
  const name = `skala_fault_${randomBytes(4).toString("hex")}`;
  const event = (options.on ?? "insert").toUpperCase();
  const message = `injected failure: ${event} on ${table}`;
  if (store.dialect === "sqlite") {
    const when = options.when ? `WHEN ${options.when}` : "";
    await sql
      .raw(
        `CREATE TRIGGER ${name} BEFORE ${event} ON ${table} ${when} BEGIN SELECT RAISE(ABORT, '${message}'); END`,
      )
      .execute(store.db);
    return {
      remove: () =>
        sql
          .raw(`DROP TRIGGER IF EXISTS ${name}`)
          .execute(store.db)
          .then(() => {}),
    };
  }
  // PostgreSQL allows no subquery in a trigger's WHEN, so the condition goes into the function.
  await sql
    .raw(
      `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ` +
        `IF ${options.when ?? "true"} THEN RAISE EXCEPTION '${message}'; END IF; RETURN NEW; END $$`,
    )
    .execute(store.db);
  await sql
    .raw(`CREATE TRIGGER ${name} BEFORE ${event} ON ${table} FOR EACH ROW EXECUTE FUNCTION ${name}()`)
    .execute(store.db);
  return {
    async remove() {
      await sql.raw(`DROP TRIGGER IF EXISTS ${name} ON ${table}`).execute(store.db);
      await sql.raw(`DROP FUNCTION IF EXISTS ${name}()`).execute(store.db);
    },
  };
}

/** Row counts of the given tables, to compare before and after something that must leave nothing. */
export async function rowCounts(store: Store, tables: readonly string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const { rows } = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(
      store.db,
    );
    counts[table] = Number(rows[0]?.n ?? 0);
  }
  return counts;
}
