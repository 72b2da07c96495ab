import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, sql } from "kysely";
import pg from "pg";
import { SkalaError } from "../core/index.js";
import type { Database } from "./schema.js";
import { type DialectName, postgresDialect, type SqlDialect, sqliteDialect } from "./sql-dialect.js";
import { type StorageErrorHooks, toStorageError, withStorageErrors } from "./storage-errors.js";

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
export function withStatementCache(connection: SQLite.Database): SQLite.Database {
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

export interface StoreOptions {
  /**
   * Errors no caller receives: a PostgreSQL connection lost (idle in the pool or between two queries), a
   * rollback failing after the error that caused it. Default: written to stderr, never lost silently.
   */
  onError?: (error: unknown, context: string) => void;
}

/** Pragmas of every connection: reads wait for a busy lock rather than fail, and have cache and mmap. */
function tuneSqlite(connection: SQLite.Database): void {
  connection.pragma("busy_timeout = 5000");
  // A registry of 100,000 versions is ~0.5 GB; a 64 MiB page cache plus memory-mapped reads keep lookups off
  // the read() syscall path. mmap only maps the file: memory stays the OS page cache's to reclaim.
  connection.pragma("cache_size = -65536");
  connection.pragma("mmap_size = 1073741824");
}

function sqliteKysely(connection: SQLite.Database, hooks: StorageErrorHooks): Kysely<Database> {
  return new Kysely<Database>({
    dialect: withStorageErrors(new SqliteDialect({ database: withStatementCache(connection) }), hooks),
  });
}

function openSqlite(path: string, hooks: StorageErrorHooks): Store {
  // "" is a temporary database, private to its connection like ":memory:".
  const inMemory = path === ":memory:" || path === "";
  if (!inMemory) mkdirSync(dirname(path), { recursive: true });
  try {
    return sqliteStore(path, inMemory, hooks);
  } catch (error) {
    throw toStorageError(error); // locked by another process, unreadable file, full disk
  }
}

function sqliteStore(path: string, inMemory: boolean, hooks: StorageErrorHooks): Store {
  const connection = new SQLite(path);
  // WAL lets readers proceed during writes; NORMAL sync in WAL mode survives process crashes (kill -9)
  // and loses at most the last transactions on power loss. Foreign keys are off by default in SQLite.
  connection.pragma("journal_mode = WAL");
  connection.pragma("synchronous = NORMAL");
  connection.pragma("foreign_keys = ON");
  tuneSqlite(connection);
  const db = sqliteKysely(connection, hooks);
  // Opened after the writer has put the file in WAL mode, which a read-only connection cannot do itself.
  const reader = inMemory ? undefined : new SQLite(path, { readonly: true });
  if (reader) tuneSqlite(reader);
  const readDb = reader ? sqliteKysely(reader, hooks) : db;
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

function openPostgres(url: string, hooks: StorageErrorHooks): Store {
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
  // A client losing its connection (server restart, terminated backend) must not crash the process, idle in the
  // pool or checked out between two queries: its own listener reports it once, the next query fails
  // SERVICE_UNAVAILABLE, and the pool drops the broken client. The pool re-emits idle clients' errors: ignored.
  pool.on("connect", (client) => {
    client.on("error", (error) => hooks.onError?.(error, "PostgreSQL connection lost"));
  });
  pool.on("error", () => {});
  const db = new Kysely<Database>({ dialect: withStorageErrors(new PostgresDialect({ pool }), hooks) });
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
export function openStore(url: string, options: StoreOptions = {}): Store {
  const hooks: StorageErrorHooks = { onError: options.onError ?? reportToStderr };
  // Never echo a password: user info in the URL is masked.
  const shown = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1***@");
  const invalid = (message: string) =>
    new SkalaError("CONFIG_INVALID", `unsupported database URL "${shown}": ${message}`, {
      issues: [{ path: "database.url", message }],
    });
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    // pg parses the URL only at the first query, and fails there with a bare TypeError.
    if (!URL.canParse(url)) throw invalid("is not a valid URL");
    return openPostgres(url, hooks);
  }
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length);
    // better-sqlite3 opens an anonymous temporary database for "": everything would be lost at exit.
    if (path === "")
      throw invalid("names no file: write sqlite:PATH, or sqlite::memory: for an in-memory database");
    return openSqlite(path, hooks);
  }
  throw invalid("must start with postgres://, postgresql:// or sqlite:");
}

function reportToStderr(error: unknown, context: string): void {
  process.stderr.write(`skala store: ${context}: ${(error as Error)?.stack ?? String(error)}\n`);
}
