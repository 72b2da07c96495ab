import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, sql } from "kysely";
import pg from "pg";
import { SkalaError } from "../core/index.js";
import type { Database } from "./schema.js";
import { type DialectName, postgresDialect, type SqlDialect, sqliteDialect } from "./sql-dialect.js";

export type { DialectName };

/** A connected metadata store. Only this module knows which driver sits underneath. */
export interface Store {
  /** Every write, and every read that must see a transaction's own writes, goes here. */
  readonly db: Kysely<Database>;
  /**
   * For reads on hot paths (docs/adr/0004-sqlite-read-connection.md): a read-only connection of its own on a
   * file-backed SQLite store, so that reads do not queue behind a long write transaction on `db`; `db` itself
   * on PostgreSQL (a pool) and on an in-memory SQLite store (which is private to its one connection). It sees
   * what `db` committed, never what a transaction still open there wrote. Never write through it.
   */
  readonly readDb: Kysely<Database>;
  readonly dialect: DialectName;
  /** The dialect's locking operations, for repositories. */
  readonly sqlDialect: SqlDialect;
  /** Cheap round trip used by /readyz. */
  ping(): Promise<void>;
  /** SQLite: `PRAGMA integrity_check` result ("ok" when healthy); PostgreSQL: always "ok". */
  integrityCheck(): Promise<string>;
  close(): Promise<void>;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely's SQLite driver prepares every statement anew, which costs more than running it (tens of µs against
 * about one). Queries built by the repositories have a bounded set of SQL texts, so prepared statements are
 * kept by text and reused; the oldest are dropped past the bound.
 */
function withStatementCache(connection: SQLite.Database): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = connection.prepare.bind(connection);
  return new Proxy(connection, {
    get(target, property, receiver) {
      if (property !== "prepare") return Reflect.get(target, property, receiver);
      return (source: string) => {
        let statement = cache.get(source);
        if (!statement) {
          statement = prepare(source);
          if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
          cache.set(source, statement);
        }
        return statement;
      };
    },
  });
}

/** Pragmas of every connection: reads wait for a busy lock rather than fail, and have cache and mmap. */
function tuneSqlite(connection: SQLite.Database): void {
  connection.pragma("busy_timeout = 5000");
  // A registry of 100,000 versions is ~0.5 GB; a 64 MiB page cache plus memory-mapped reads keep lookups off
  // the read() syscall path. mmap only maps the file: memory stays the OS page cache's to reclaim.
  connection.pragma("cache_size = -65536");
  connection.pragma("mmap_size = 1073741824");
}

function sqliteKysely(connection: SQLite.Database): Kysely<Database> {
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(connection) }) });
}

function openSqlite(path: string): Store {
  // "" is a temporary database, private to its connection like ":memory:".
  const inMemory = path === ":memory:" || path === "";
  if (!inMemory) mkdirSync(dirname(path), { recursive: true });
  const connection = new SQLite(path);
  // WAL lets readers proceed during writes; NORMAL sync in WAL mode survives process crashes (kill -9)
  // and loses at most the last transactions on power loss. Foreign keys are off by default in SQLite.
  connection.pragma("journal_mode = WAL");
  connection.pragma("synchronous = NORMAL");
  connection.pragma("foreign_keys = ON");
  tuneSqlite(connection);
  const db = sqliteKysely(connection);
  // Opened after the writer has put the file in WAL mode, which a read-only connection cannot do itself.
  const reader = inMemory ? undefined : new SQLite(path, { readonly: true });
  if (reader) tuneSqlite(reader);
  const readDb = reader ? sqliteKysely(reader) : db;
  return {
    db,
    readDb,
    dialect: "sqlite",
    sqlDialect: sqliteDialect,
    async ping() {
      await sql`select 1`.execute(db);
    },
    async integrityCheck() {
      const rows = connection.pragma("integrity_check") as Array<{ integrity_check: string }>;
      return rows.map((row) => row.integrity_check).join("; ");
    },
    async close() {
      // The reader first: the last connection to close checkpoints the WAL into the database file.
      if (readDb !== db) await readDb.destroy();
      await db.destroy();
    },
  };
}

function openPostgres(url: string): Store {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    // BIGINT and NUMERIC columns hold sizes and counts that fit in a double; return numbers, not strings.
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === INT8_OID || oid === NUMERIC_OID
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client losing its connection must not crash the process; the next query reports the failure.
  pool.on("error", () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    readDb: db,
    dialect: "postgres",
    sqlDialect: postgresDialect,
    async ping() {
      await sql`select 1`.execute(db);
    },
    integrityCheck: async () => "ok",
    close: () => db.destroy(),
  };
}

/**
 * Opens the store named by a URL: `postgres://…`/`postgresql://…`, `sqlite:PATH` or `sqlite::memory:`.
 *
 * @example
 * const store = openStore("sqlite:.skala/skala.db");
 * await migrateToLatest(store);
 */
export function openStore(url: string): Store {
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) return openPostgres(url);
  if (url.startsWith("sqlite:")) return openSqlite(url.slice("sqlite:".length));
  throw new SkalaError("CONFIG_INVALID", `unsupported database URL "${url}"`, {
    issues: [{ path: "database.url", message: "must start with postgres://, postgresql:// or sqlite:" }],
  });
}
