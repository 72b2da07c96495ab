import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, sql } from "kysely";
import pg from "pg";
import { SkalaError } from "../core/index.js";
import type { Database } from "./schema.js";

export type DialectName = "sqlite" | "postgres";

/** A connected metadata store. Only this module knows which driver sits underneath. */
export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: DialectName;
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

function openSqlite(path: string): Store {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const connection = new SQLite(path);
  // WAL lets readers proceed during writes; NORMAL sync in WAL mode survives process crashes (kill -9)
  // and loses at most the last transactions on power loss. Foreign keys are off by default in SQLite.
  connection.pragma("journal_mode = WAL");
  connection.pragma("synchronous = NORMAL");
  connection.pragma("foreign_keys = ON");
  connection.pragma("busy_timeout = 5000");
  // A registry of 100,000 versions is ~0.5 GB; a 64 MiB page cache plus memory-mapped reads keep lookups off
  // the read() syscall path. mmap only maps the file: memory stays the OS page cache's to reclaim.
  connection.pragma("cache_size = -65536");
  connection.pragma("mmap_size = 1073741824");
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: withStatementCache(connection) }),
  });
  return {
    db,
    dialect: "sqlite",
    async ping() {
      await sql`select 1`.execute(db);
    },
    async integrityCheck() {
      const rows = connection.pragma("integrity_check") as Array<{ integrity_check: string }>;
      return rows.map((row) => row.integrity_check).join("; ");
    },
    close: () => db.destroy(),
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
    dialect: "postgres",
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
  // Never echo a password: user info in the URL is masked.
  const shown = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1***@");
  const invalid = (message: string) =>
    new SkalaError("CONFIG_INVALID", `unsupported database URL "${shown}": ${message}`, {
      issues: [{ path: "database.url", message }],
    });
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    // pg parses the URL only at the first query, and fails there with a bare TypeError.
    if (!URL.canParse(url)) throw invalid("is not a valid URL");
    return openPostgres(url);
  }
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length);
    // better-sqlite3 opens an anonymous temporary database for "": everything would be lost at exit.
    if (path === "")
      throw invalid("names no file: write sqlite:PATH, or sqlite::memory: for an in-memory database");
    return openSqlite(path);
  }
  throw invalid("must start with postgres://, postgresql:// or sqlite:");
}
