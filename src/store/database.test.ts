import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { isSkalaError, type SkalaError } from "../core/index.js";
import { openStore, type Store, withStatementCache } from "./database.js";
import { migrateToLatest } from "./migrations.js";
import { postgresTestUrl, testDialects } from "./test-support/dialects.js";

/** A real connection behind the cache, with every statement the cache asks SQLite to prepare recorded. */
function cachedConnection() {
  const connection = new SQLite(":memory:");
  const prepared: string[] = [];
  const prepare = connection.prepare.bind(connection);
  connection.prepare = ((source: string) => {
    prepared.push(source);
    return prepare(source);
  }) as typeof connection.prepare;
  const cached = withStatementCache(connection);
  const db = new Kysely<Record<string, Record<string, unknown>>>({
    dialect: new SqliteDialect({ database: cached }),
  });
  return { connection, cached, db, prepared };
}

describe("the SQLite statement cache", () => {
  const open: Array<{ close(): unknown }> = [];
  afterEach(() => {
    for (const connection of open.splice(0)) connection.close();
  });
  const connect = () => {
    const made = cachedConnection();
    open.push(made.connection);
    return made;
  };

  it("prepares each SQL text once and hands out the same statement for it", async () => {
    const { cached, db, prepared } = connect();
    await sql`create table t (k text primary key, v integer)`.execute(db);
    for (let i = 0; i < 5; i++)
      await db
        .insertInto("t")
        .values({ k: `k${i}`, v: i })
        .execute();
    for (let i = 0; i < 5; i++) await db.selectFrom("t").selectAll().where("k", "=", `k${i}`).execute();
    expect(prepared).toEqual([
      "create table t (k text primary key, v integer)",
      'insert into "t" ("k", "v") values (?, ?)',
      'select * from "t" where "k" = ?',
    ]);
    expect(cached.prepare("select 1")).toBe(cached.prepare("select 1"));
    expect(prepared.filter((s) => s === "select 1")).toHaveLength(1);
  });

  it("binds each run's own parameters to a reused statement", async () => {
    const { db } = connect();
    await sql`create table t (k text primary key, v integer)`.execute(db);
    await db
      .insertInto("t")
      .values(["a", "b", "c"].map((k, v) => ({ k, v })))
      .execute();
    const read = (k: string) => db.selectFrom("t").select("v").where("k", "=", k).execute();
    // Interleaved and concurrent runs of one text: each sees its own parameter.
    const results = await Promise.all(["c", "a", "b", "a", "missing"].map(read));
    expect(results).toEqual([[{ v: 2 }], [{ v: 0 }], [{ v: 1 }], [{ v: 0 }], []]);
    const changed = await db.updateTable("t").set({ v: 9 }).where("k", "=", "b").executeTakeFirst();
    expect(changed.numUpdatedRows).toBe(1n);
    expect(await read("b")).toEqual([{ v: 9 }]);
  });

  it("keeps at most 500 statements, dropping the one prepared first", () => {
    const { cached, prepared } = connect();
    const text = (i: number) => `select ${i} as n`;
    const first = cached.prepare(text(0));
    for (let i = 1; i < 500; i++) cached.prepare(text(i));
    expect(cached.prepare(text(0))).toBe(first);
    expect(prepared).toHaveLength(500);
    cached.prepare(text(500)); // the 501st text evicts text(0)
    expect(cached.prepare(text(1))).toBe(cached.prepare(text(1)));
    expect(prepared).toHaveLength(501);
    const again = cached.prepare(text(0));
    expect(again).not.toBe(first);
    expect(prepared).toHaveLength(502);
    expect(again.get()).toEqual({ n: 0 });
  });

  describe("through openStore", () => {
    let store: Store;
    afterEach(() => store?.close());

    it("re-prepares a cached statement after the schema under it changes", async () => {
      store = openStore("sqlite::memory:");
      const db = store.db as unknown as Kysely<Record<string, Record<string, unknown>>>;
      const all = () => db.selectFrom("t").selectAll().execute();
      await sql`create table t (a integer)`.execute(db);
      await sql`insert into t values (1)`.execute(db);
      expect(await all()).toEqual([{ a: 1 }]);

      await sql`alter table t add column b text default 'x'`.execute(db);
      expect(await all()).toEqual([{ a: 1, b: "x" }]);

      await sql`drop table t`.execute(db);
      await expect(all()).rejects.toThrow(/no such table: t/);
      await sql`create table t (c integer, d integer)`.execute(db);
      await sql`insert into t values (3, 4)`.execute(db);
      expect(await all()).toEqual([{ c: 3, d: 4 }]);

      const onlyC = () => db.selectFrom("t").select("c").execute();
      expect(await onlyC()).toEqual([{ c: 3 }]);
      await sql`alter table t rename column c to e`.execute(db);
      await expect(onlyC()).rejects.toThrow(/no such column/);
      expect(await all()).toEqual([{ e: 3, d: 4 }]);
    });

    it("serves the migrated schema with the same statements after a migration ran on them", async () => {
      store = openStore("sqlite::memory:");
      await migrateToLatest(store);
      await store.db
        .insertInto("projects")
        .values({ id: "p", name: "a", description: "", created_at: "t" })
        .execute();
      const byName = (name: string) =>
        store.db.selectFrom("projects").select("id").where("name", "=", name).execute();
      expect(await byName("a")).toEqual([{ id: "p" }]);
      expect(await byName("b")).toEqual([]);
    });
  });
});

describe("openStore", () => {
  const dirs: string[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const opened = (url: string) => {
    const store = openStore(url);
    stores.push(store);
    return store;
  };

  function refusal(url: string): SkalaError {
    try {
      openStore(url);
    } catch (error) {
      if (isSkalaError(error)) return error;
      throw error;
    }
    throw new Error(`openStore accepted ${url}`);
  }

  it("opens a SQLite file, creating its folders, in WAL mode with foreign keys on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skala-store-"));
    dirs.push(dir);
    const path = join(dir, "nested", "deeper", "skala.db");
    const store = opened(`sqlite:${path}`);
    expect(store.dialect).toBe("sqlite");
    await store.ping();
    expect(existsSync(path)).toBe(true);
    const pragma = async (name: string) =>
      Object.values(
        ((await sql.raw(`pragma ${name}`).execute(store.db)).rows[0] ?? {}) as Record<string, unknown>,
      )[0];
    expect(await pragma("journal_mode")).toBe("wal");
    expect(await pragma("foreign_keys")).toBe(1);
    expect(await pragma("synchronous")).toBe(1); // NORMAL
    expect(await pragma("busy_timeout")).toBe(5000);
    expect(await store.integrityCheck()).toBe("ok");
    // Data written through one store is there for the next one on the same file.
    await migrateToLatest(store);
    await store.db
      .insertInto("projects")
      .values({ id: "p", name: "a", description: "", created_at: "t" })
      .execute();
    await store.close();
    stores.pop();
    const again = opened(`sqlite:${path}`);
    expect(await again.db.selectFrom("projects").select("name").execute()).toEqual([{ name: "a" }]);
  });

  it("opens an in-memory SQLite database for sqlite::memory:", async () => {
    const store = opened("sqlite::memory:");
    await store.ping();
    expect(await store.integrityCheck()).toBe("ok");
  });

  it.each([
    ["mysql://root@localhost/skala", /must start with postgres:\/\/, postgresql:\/\/ or sqlite:/],
    ["", /must start with/],
    ["SQLITE:skala.db", /must start with/],
    ["file:skala.db", /must start with/],
    ["sqlite", /must start with/],
    ["postgres:/localhost/skala", /must start with/],
    // better-sqlite3 would open an anonymous temporary database, and every write would be lost at exit.
    ["sqlite:", /names no file/],
    // pg would fail only at the first query, with a bare TypeError.
    ["postgresql://[::1", /is not a valid URL/],
  ])("refuses %j with CONFIG_INVALID on database.url", (url, message) => {
    const error = refusal(url);
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toMatch(message);
    expect(error.details?.issues).toEqual([{ path: "database.url", message: expect.any(String) }]);
  });

  it("never repeats a password from the URL in its error", () => {
    for (const url of ["mysql://admin:s3cret@db.example/skala", "postgres://admin:s3cret@[::1/skala"]) {
      const error = refusal(url);
      expect(error.message).not.toContain("s3cret");
      expect(error.message).toContain("***@");
    }
  });

  it.skipIf(!testDialects().includes("postgres"))(
    "opens PostgreSQL for postgres:// and postgresql:// URLs",
    async () => {
      const url = postgresTestUrl() as string;
      for (const scheme of ["postgres://", "postgresql://"]) {
        const store = opened(url.replace(/^postgres(ql)?:\/\//, scheme));
        expect(store.dialect).toBe("postgres");
        await store.ping();
        expect(await store.integrityCheck()).toBe("ok");
        const { rows } = await sql<{ n: number }>`select 2::int8 * 3 as n`.execute(store.db);
        expect(rows).toEqual([{ n: 6 }]); // BIGINT comes back as a number
      }
    },
  );

  it("reports an unreachable PostgreSQL server when used, not when opened", async () => {
    const store = opened("postgres://nobody@127.0.0.1:1/none");
    expect(store.dialect).toBe("postgres");
    await expect(store.ping()).rejects.toThrow();
  });
});
