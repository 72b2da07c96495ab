import { CompiledQuery, sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import type { Store } from "./database.js";
import { migrateTo, migrateToLatest, migrationNames, pendingMigrations } from "./migrations.js";
import type { Database } from "./schema.js";
import { freshStore, testDialects } from "./test-support/dialects.js";
import {
  SEEDS,
  SEQUENCED_TABLES,
  type SeedRows,
  seedsUpTo,
  writeSeeds,
} from "./test-support/upgrade-fixture.js";

const MIGRATION_TABLES = new Set(["skala_migrations", "skala_migrations_lock"]);

async function tableColumns(store: Store): Promise<Map<string, string[]>> {
  const tables = await store.db.introspection.getTables();
  return new Map(
    tables
      .filter((t) => !MIGRATION_TABLES.has(t.name))
      .map((t) => [t.name, t.columns.map((c) => c.name).sort()] as const),
  );
}

/** The rows of `table` as the database returns them, in insertion order for sequenced tables. */
async function rowsOf(store: Store, table: keyof Database): Promise<Record<string, unknown>[]> {
  const rows = (await store.db
    .selectFrom(table)
    .selectAll()
    .$if(SEQUENCED_TABLES.has(table), (q) => q.orderBy(sql.ref("seq")))
    .execute()) as Record<string, unknown>[];
  return rows;
}

const canonical = (rows: readonly Record<string, unknown>[]) =>
  rows.map((row) => JSON.stringify(Object.entries(row).sort(([a], [b]) => a.localeCompare(b)))).sort();

describe.each(testDialects())("migrations on %s", (dialect) => {
  const names = migrationNames(dialect);
  let dispose: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await dispose?.();
    dispose = undefined;
  });

  async function emptyStore(): Promise<Store> {
    const fresh = await freshStore(dialect, { migrated: false });
    dispose = fresh.dispose;
    return fresh.store;
  }

  it("has a seed group for every migration that creates tables, and every table has rows in it", async () => {
    const store = await emptyStore();
    let before = new Set<string>();
    for (const name of names) {
      await migrateTo(store, name);
      const now = new Set((await tableColumns(store)).keys());
      const created = [...now].filter((t) => !before.has(t)).sort();
      const seeded = Object.keys(SEEDS.find((s) => s.migration === name)?.rows ?? {}).sort();
      expect(seeded, `tables created by ${name}`).toEqual(created);
      for (const table of seeded) {
        expect(
          SEEDS.find((s) => s.migration === name)?.rows[table as keyof Database]?.length,
        ).toBeGreaterThan(0);
      }
      before = now;
    }
  });

  it.each(names.slice(0, -1))(
    "upgrades a database at %s with data in every table to the latest, losing nothing",
    async (from) => {
      const store = await emptyStore();
      expect(await migrateTo(store, from)).toEqual(names.slice(0, names.indexOf(from) + 1));
      const seeds = seedsUpTo(from);
      await writeSeeds(store.db, seeds);
      const columnsBefore = await tableColumns(store);

      expect(await migrateToLatest(store)).toEqual(names.slice(names.indexOf(from) + 1));
      expect(await pendingMigrations(store)).toEqual([]);
      const columnsAfter = await tableColumns(store);

      for (const [table, written] of Object.entries(Object.assign({}, ...seeds) as SeedRows) as [
        keyof Database,
        Record<string, unknown>[],
      ][]) {
        // Every written value comes back; columns added since `from` (and others not written) are null.
        const columns = columnsAfter.get(table) ?? [];
        expect(columns, table).toEqual(expect.arrayContaining(columnsBefore.get(table) ?? []));
        const expected = written.map((row, i) => ({
          ...Object.fromEntries(columns.map((c) => [c, null])),
          ...row,
          ...(SEQUENCED_TABLES.has(table) && { seq: i + 1 }),
        }));
        const stored = await rowsOf(store, table);
        if (SEQUENCED_TABLES.has(table)) expect(stored, table).toEqual(expected);
        else expect(canonical(stored), table).toEqual(canonical(expected));
      }
      await expectReferencesIntact(store);
    },
  );

  it("refuses to migrate back to an earlier migration (there are no down migrations)", async () => {
    const store = await emptyStore();
    await migrateToLatest(store);
    await expect(migrateTo(store, names[0] as string)).rejects.toThrow(/past 0001_registry .*never go down/);
    expect(await pendingMigrations(store)).toEqual([]);
  });

  it("migrates a fresh database in one go and then has nothing pending", async () => {
    const store = await emptyStore();
    expect(await pendingMigrations(store)).toEqual(names);
    expect(await migrateToLatest(store)).toEqual(names);
    expect(await migrateToLatest(store)).toEqual([]);
    await writeSeeds(store.db, seedsUpTo(names.at(-1) as string));
    await expectReferencesIntact(store);
  });
});

describe.each(testDialects())("the runs index of idempotent producers on %s", (dialect) => {
  let dispose: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await dispose?.();
    dispose = undefined;
  });

  /** The lookup of RunService.ensure: a project's earliest run of one source. */
  const lookup = (store: Store) =>
    store.db
      .selectFrom("runs")
      .select("id")
      .where("project_id", "=", "p1")
      .where("source_ref", "=", "fleet:carparts:abc")
      .orderBy("id")
      .compile();

  it("exists after migrating, on (project_id, source_ref, id)", async () => {
    const fresh = await freshStore(dialect);
    dispose = fresh.dispose;
    if (dialect === "sqlite") {
      const { rows } = await sql<{ name: string }>`pragma index_info(runs_project_source)`.execute(
        fresh.store.db,
      );
      expect(rows.map((r) => r.name)).toEqual(["project_id", "source_ref", "id"]);
    } else {
      const { rows } = await sql<{ indexdef: string }>`
        select indexdef from pg_indexes where tablename = 'runs' and indexname = 'runs_project_source'`.execute(
        fresh.store.db,
      );
      expect(rows.map((r) => r.indexdef)).toEqual([expect.stringMatching(/\(project_id, source_ref, id\)$/)]);
    }
  });

  it.runIf(dialect === "sqlite")(
    "is what SQLite's plan for the lookup searches, on both columns and without sorting",
    async () => {
      const fresh = await freshStore(dialect);
      dispose = fresh.dispose;
      const query = lookup(fresh.store);
      const { rows } = await fresh.store.db.executeQuery<{ detail: string }>(
        CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]),
      );
      const plan = rows.map((r) => r.detail);
      expect(plan).toEqual([
        expect.stringMatching(
          /^SEARCH runs USING COVERING INDEX runs_project_source \(project_id=\? AND source_ref=\?\)$/,
        ),
      ]);
    },
  );
});

/** Every foreign key resolves (SQLite checks them row by row; PostgreSQL holds only validated constraints). */
async function expectReferencesIntact(store: Store): Promise<void> {
  if (store.dialect === "sqlite") {
    const { rows } = await sql<Record<string, unknown>>`pragma foreign_key_check`.execute(store.db);
    expect(rows).toEqual([]);
    expect(await store.integrityCheck()).toBe("ok");
  } else {
    const { rows } = await sql<{ conname: string }>`
      select conname from pg_constraint where contype = 'f' and not convalidated`.execute(store.db);
    expect(rows).toEqual([]);
  }
}
