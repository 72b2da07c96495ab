import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { sql } from "kysely";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { mountTinyFs } from "../core/test-support/tiny-fs.js";
import { openStore, type Store } from "./database.js";
import { migrateToLatest } from "./migrations.js";
import { classifyDatabaseError } from "./storage-errors.js";
import { freshStore, testDialects } from "./test-support/dialects.js";

const withCode = (code: string, message = code) => Object.assign(new Error(message), { code });

describe("classifyDatabaseError", () => {
  it.each([
    ["SQLITE_FULL", "STORAGE_FULL"],
    ["SQLITE_BUSY", "DATABASE_BUSY"],
    ["SQLITE_BUSY_SNAPSHOT", "DATABASE_BUSY"],
    ["SQLITE_LOCKED", "DATABASE_BUSY"],
    ["SQLITE_IOERR_WRITE", "SERVICE_UNAVAILABLE"],
    ["SQLITE_IOERR", "SERVICE_UNAVAILABLE"],
    ["SQLITE_READONLY", "SERVICE_UNAVAILABLE"],
    ["SQLITE_CANTOPEN", "SERVICE_UNAVAILABLE"],
    ["53100", "STORAGE_FULL"],
    ["40001", "DATABASE_BUSY"],
    ["40P01", "DATABASE_BUSY"],
    ["55P03", "DATABASE_BUSY"],
    ["53300", "DATABASE_BUSY"],
    ["53200", "SERVICE_UNAVAILABLE"],
    ["57P01", "SERVICE_UNAVAILABLE"],
    ["57P03", "SERVICE_UNAVAILABLE"],
    ["08006", "SERVICE_UNAVAILABLE"],
    ["08001", "SERVICE_UNAVAILABLE"],
    ["ECONNREFUSED", "SERVICE_UNAVAILABLE"],
    ["ECONNRESET", "SERVICE_UNAVAILABLE"],
  ])("%s is %s", (code, expected) => {
    expect(classifyDatabaseError(withCode(code))).toBe(expected);
  });

  it.each([
    ["SQLITE_CONSTRAINT_UNIQUE"],
    ["SQLITE_CONSTRAINT_FOREIGNKEY"],
    ["SQLITE_ERROR"],
    ["23505"],
    ["23503"],
    ["42P01"],
  ])("leaves %s (not a storage failure) to its caller", (code) => {
    expect(classifyDatabaseError(withCode(code))).toBeUndefined();
  });

  it("recognises pg's code-less connection failures by message", () => {
    expect(classifyDatabaseError(new Error("Connection terminated unexpectedly"))).toBe(
      "SERVICE_UNAVAILABLE",
    );
    expect(classifyDatabaseError(new Error("timeout exceeded when trying to connect"))).toBe(
      "SERVICE_UNAVAILABLE",
    );
    expect(classifyDatabaseError(new Error("something else"))).toBeUndefined();
  });
});

describe("SQLite storage failures", () => {
  const dirs: string[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });
  const tiny = mountTinyFs(2 << 20);
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    if (typeof tiny !== "string") tiny.unmount();
  });
  const fileStore = async (onError?: (error: unknown, context: string) => void) => {
    const dir = mkdtempSync(join(tmpdir(), "skala-storage-errors-"));
    dirs.push(dir);
    const path = join(dir, "skala.db");
    const store = openStore(`sqlite:${path}`, { ...(onError && { onError }) });
    stores.push(store);
    await migrateToLatest(store);
    return { store, path };
  };
  const blobRows = (count: number, from: number) =>
    Array.from({ length: count }, (_, i) => ({
      digest: `sha256:${String(from + i).padStart(64, "0")}`,
      size: i,
      created_at: "2025-01-01T00:00:00.000Z",
    }));

  const count = async (store: Store) =>
    Number(
      (
        await store.db
          .selectFrom("blobs")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const fillInOneTransaction = (store: Store) =>
    store.db
      .transaction()
      .execute(async (trx) => {
        for (let batch = 0; batch < 2_000; batch++)
          await trx
            .insertInto("blobs")
            .values(blobRows(100, 1_000 + batch * 100))
            .execute();
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );

  it.skipIf(typeof tiny === "string")(
    `reports a full disk as STORAGE_FULL, not the failed rollback, and keeps the database intact${typeof tiny === "string" ? ` (skipped: ${tiny})` : ""}`,
    async () => {
      if (typeof tiny === "string") return;
      const logged: Array<{ error: unknown; context: string }> = [];
      const store = openStore(`sqlite:${join(tiny.dir, "skala.db")}`, {
        onError: (error, context) => logged.push({ error, context }),
      });
      stores.push(store);
      await migrateToLatest(store);
      await store.db.insertInto("blobs").values(blobRows(10, 0)).execute();

      const failed = await fillInOneTransaction(store);

      expect(failed).toMatchObject({ name: "SkalaError", code: "STORAGE_FULL" });
      expect((failed as Error).cause).toMatchObject({ code: "SQLITE_FULL" });
      expect((failed as Error).message).not.toMatch(/SQLITE|rollback/);
      // SQLite had rolled the transaction back itself; the rollback's own failure went to the log.
      expect(logged.map((entry) => String((entry.error as Error).message))).toEqual([
        expect.stringMatching(/no transaction is active/),
      ]);
      expect(logged[0]?.context).toMatch(/database or disk is full/);
      expect(await count(store)).toBe(10);
      expect(await store.integrityCheck()).toBe("ok");
    },
  );

  it("reports a database at its size limit (max_page_count) as STORAGE_FULL and keeps it intact", async () => {
    const { store } = await fileStore();
    await store.db.insertInto("blobs").values(blobRows(10, 0)).execute();
    const { rows } = await sql<{ page_count: number }>`pragma page_count`.execute(store.db);
    await sql.raw(`pragma max_page_count = ${(rows[0]?.page_count ?? 0) + 3}`).execute(store.db);

    const failed = await fillInOneTransaction(store);

    expect(failed).toMatchObject({
      name: "SkalaError",
      code: "STORAGE_FULL",
      cause: { code: "SQLITE_FULL" },
    });
    expect(await count(store)).toBe(10);
    expect(await store.integrityCheck()).toBe("ok");
    await sql.raw("pragma max_page_count = 1073741823").execute(store.db);
    await store.db.insertInto("blobs").values(blobRows(1, 500)).execute();
    expect(await count(store)).toBe(11);
  });

  it("reports a database another process holds locked as DATABASE_BUSY after the busy timeout", async () => {
    const { store, path } = await fileStore();
    const other = new SQLite(path);
    try {
      other.exec("begin immediate");
      await sql.raw("pragma busy_timeout = 100").execute(store.db);
      const started = Date.now();
      const error = await store.db
        .insertInto("blobs")
        .values(blobRows(1, 0))
        .execute()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toMatchObject({ code: "DATABASE_BUSY" });
      expect((error as Error).cause).toMatchObject({ code: "SQLITE_BUSY" });
      expect((error as Error).message).not.toMatch(/SQLITE/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    } finally {
      other.exec("rollback");
      other.close();
    }
  });

  it("keeps the busy timeout at 5 s for other local processes such as the CLI", async () => {
    const { store } = await fileStore();
    const { rows } = await sql<{ timeout: number }>`pragma busy_timeout`.execute(store.db);
    expect(rows[0]).toEqual({ timeout: 5000 });
  });
});

describe.skipIf(!testDialects().includes("postgres"))("PostgreSQL storage failures", () => {
  it("reports a deadlock as DATABASE_BUSY", async () => {
    const fresh = await freshStore("postgres");
    try {
      const { db } = fresh.store;
      await db
        .insertInto("blobs")
        .values([
          { digest: "a", size: 1, created_at: "x" },
          { digest: "b", size: 1, created_at: "x" },
        ])
        .execute();
      let bothLocked!: () => void;
      let arrived = 0;
      const barrier = new Promise<void>((resolve) => {
        bothLocked = resolve;
      });
      const lockThenTake = (first: string, second: string) =>
        db.transaction().execute(async (trx) => {
          await trx.updateTable("blobs").set({ size: 2 }).where("digest", "=", first).execute();
          if (++arrived === 2) bothLocked();
          await barrier;
          await trx.updateTable("blobs").set({ size: 3 }).where("digest", "=", second).execute();
        });
      const outcomes = await Promise.allSettled([lockThenTake("a", "b"), lockThenTake("b", "a")]);
      const failures = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
      expect(failures).toHaveLength(1);
      expect(failures[0]?.reason).toMatchObject({ code: "DATABASE_BUSY", cause: { code: "40P01" } });
    } finally {
      await fresh.dispose();
    }
  });

  it("reports a connection killed mid-transaction as SERVICE_UNAVAILABLE and logs idle clients that die", async () => {
    const fresh = await freshStore("postgres");
    const logged: Array<{ error: unknown; context: string }> = [];
    const store = openStore(fresh.url, { onError: (error, context) => logged.push({ error, context }) });
    const admin = new pg.Client({ connectionString: fresh.url });
    await admin.connect();
    try {
      const error = await store.db
        .transaction()
        .execute(async (trx) => {
          const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
          await admin.query("select pg_terminate_backend($1)", [rows[0]?.pid]);
          await sql`select 1`.execute(trx);
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toMatchObject({ code: "SERVICE_UNAVAILABLE" });
      expect((error as Error).message).not.toMatch(/terminat/);

      // The connection lost mid-transaction was reported (instead of crashing the process as an unhandled
      // 'error' event); so is an idle pooled client whose backend goes away.
      expect(logged.map((l) => classifyDatabaseError(l.error))).toContain("SERVICE_UNAVAILABLE");
      const before = logged.length;
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(store.db);
      await admin.query("select pg_terminate_backend($1)", [rows[0]?.pid]);
      for (let i = 0; i < 100 && logged.length === before; i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(logged.slice(before).map((l) => [l.context, classifyDatabaseError(l.error)])).toContainEqual([
        "PostgreSQL connection lost",
        "SERVICE_UNAVAILABLE",
      ]);
      await sql`select 1`.execute(store.db); // the pool replaced the client
    } finally {
      await admin.end();
      await store.close();
      await fresh.dispose();
    }
  });
});
