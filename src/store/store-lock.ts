import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import SQLite from "better-sqlite3";
import { SkalaError } from "../core/index.js";
import { classifyDatabaseError, toStorageError } from "./storage-errors.js";

/** Held by the one server that owns a SQLite database; `release` is idempotent. */
export interface StoreLock {
  readonly path: string;
  release(): void;
}

interface Holder {
  pid: number;
  host: string;
  started_at: string;
}

const HOLDER_TABLE =
  "create table if not exists holder (id integer primary key check (id = 1), pid integer not null, host text not null, started_at text not null)";

/**
 * Takes the lock of a SQLite database for a server (`skala up`), so that a second server on the same database
 * refuses to start (DATABASE_IN_USE, naming the holder's pid) instead of failing writes with "database is
 * locked". Other local processes (`skala migrate`, `skala gc`) take no lock: they wait on SQLite's busy timeout.
 * PostgreSQL and in-memory databases need no lock: undefined.
 *
 * The lock is `<database>.lock`, a small SQLite file whose write lock the holder keeps (an open `BEGIN
 * IMMEDIATE`) for its whole life, and which records pid, host and start time where others can still read them.
 * The operating system drops the lock when the process ends, however it ends (`kill -9` included), so a
 * crashed server never leaves a stale lock behind, and a reused pid never blocks a start.
 *
 * @example
 * const lock = lockStore(config.resolved.databaseUrl); // throws DATABASE_IN_USE when another server runs
 * // … serve …
 * lock?.release();
 */
export function lockStore(url: string): StoreLock | undefined {
  if (!url.startsWith("sqlite:")) return undefined;
  const database = url.slice("sqlite:".length);
  if (database === ":memory:" || database === "") return undefined;
  const path = `${database}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  let connection: SQLite.Database;
  try {
    // A second of patience: a reader of the holder row may briefly block the commit below.
    connection = new SQLite(path, { timeout: 1_000 });
  } catch (error) {
    throw toStorageError(error);
  }
  try {
    connection.exec(HOLDER_TABLE);
    connection.exec("begin immediate");
    connection
      .prepare("insert or replace into holder (id, pid, host, started_at) values (1, ?, ?, ?)")
      .run(process.pid, hostname(), new Date().toISOString());
    connection.exec("commit");
    // Readers see the row just committed; writers (another server taking the lock) wait in vain from here on.
    connection.exec("begin immediate");
  } catch (error) {
    const holder = classifyDatabaseError(error) === "DATABASE_BUSY" ? holderOf(connection) : undefined;
    connection.close();
    if (classifyDatabaseError(error) !== "DATABASE_BUSY") throw toStorageError(error);
    throw inUse(database, path, holder, error);
  }
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      connection.exec("rollback");
      connection.close();
    },
  };
}

function holderOf(connection: SQLite.Database): Holder | undefined {
  try {
    return connection.prepare("select pid, host, started_at from holder where id = 1").get() as
      | Holder
      | undefined;
  } catch {
    return undefined;
  }
}

function inUse(database: string, path: string, holder: Holder | undefined, cause: unknown): SkalaError {
  const who = holder
    ? `pid ${holder.pid} on ${holder.host}, started ${holder.started_at}`
    : `its details are not readable in ${path}`;
  return new SkalaError(
    "DATABASE_IN_USE",
    `the database ${database} is in use by another Skala server (${who}); stop that server first, or give this one another --data-dir`,
    {
      database,
      lockFile: path,
      ...(holder && { pid: holder.pid, host: holder.host, startedAt: holder.started_at }),
    },
    { cause },
  );
}
