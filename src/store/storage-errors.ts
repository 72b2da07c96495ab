import type {
  CompiledQuery,
  DatabaseConnection,
  Dialect,
  Driver,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from "kysely";
import { type ErrorCode, SkalaError } from "../core/index.js";

/** What a database failure means for the caller; undefined for everything else (constraints, syntax). */
type StorageFailure = Extract<ErrorCode, "STORAGE_FULL" | "DATABASE_BUSY" | "SERVICE_UNAVAILABLE">;

const MESSAGES: Record<StorageFailure, string> = {
  STORAGE_FULL: "the database has no space left (disk full or size limit reached); nothing was stored",
  DATABASE_BUSY:
    "the database is busy (locked by another process, or the transaction conflicted with a concurrent one); retry shortly",
  SERVICE_UNAVAILABLE: "the database is not available (connection lost or I/O error); retry shortly",
};

// Network failures of the PostgreSQL client; pg passes Node's socket errors through unchanged.
const CONNECTION_ERRNOS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
// pg reports a dropped or timed-out connection with these messages and no code.
const CONNECTION_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;
const SQLITE_NOT_IN_TRANSACTION = /no transaction is active/;

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * What a driver error means, by SQLite result code or PostgreSQL SQLSTATE; undefined when it is not a
 * storage failure (a constraint violation, a bug), which callers keep handling as before.
 */
export function classifyDatabaseError(error: unknown): StorageFailure | undefined {
  const code = codeOf(error);
  if (code?.startsWith("SQLITE_")) {
    if (code === "SQLITE_FULL") return "STORAGE_FULL";
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return "DATABASE_BUSY";
    if (
      code.startsWith("SQLITE_IOERR") ||
      code.startsWith("SQLITE_READONLY") ||
      code.startsWith("SQLITE_CANTOPEN") ||
      code === "SQLITE_NOMEM" ||
      code === "SQLITE_PROTOCOL"
    )
      return "SERVICE_UNAVAILABLE";
    return undefined;
  }
  if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) {
    switch (code) {
      case "53100": // disk_full
        return "STORAGE_FULL";
      case "40001": // serialization_failure
      case "40P01": // deadlock_detected
      case "55P03": // lock_not_available
      case "53300": // too_many_connections
        return "DATABASE_BUSY";
      case "53200": // out_of_memory
      case "57P01": // admin_shutdown
      case "57P02": // crash_shutdown
      case "57P03": // cannot_connect_now
        return "SERVICE_UNAVAILABLE";
      default:
        return code.startsWith("08") ? "SERVICE_UNAVAILABLE" : undefined; // connection_exception class
    }
  }
  if (code !== undefined && CONNECTION_ERRNOS.has(code)) return "SERVICE_UNAVAILABLE";
  if (error instanceof Error && CONNECTION_MESSAGES.test(error.message)) return "SERVICE_UNAVAILABLE";
  return undefined;
}

/** The error a caller should see: a coded SkalaError (with the driver's error as its cause) or the error itself. */
export function toStorageError(error: unknown): unknown {
  if (error instanceof SkalaError) return error;
  const failure = classifyDatabaseError(error);
  return failure === undefined
    ? error
    : new SkalaError(failure, MESSAGES[failure], undefined, { cause: error });
}

export interface StorageErrorHooks {
  /** Failures that are not thrown to anyone (a rollback failing after the error that caused it); for the log. */
  onError?: (error: unknown, context: string) => void;
}

interface TrackedConnection extends DatabaseConnection {
  readonly inner: DatabaseConnection;
  /** The first error of the open transaction: the one the caller must see, whatever the rollback does. */
  transactionError: unknown;
}

function track(inner: DatabaseConnection): TrackedConnection {
  const tracked: TrackedConnection = {
    inner,
    transactionError: undefined,
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      try {
        return await inner.executeQuery<R>(query);
      } catch (error) {
        tracked.transactionError ??= error;
        throw toStorageError(error);
      }
    },
    async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
      try {
        yield* inner.streamQuery<R>(query, chunkSize);
      } catch (error) {
        tracked.transactionError ??= error;
        throw toStorageError(error);
      }
    },
  };
  return tracked;
}

/**
 * Wraps a driver so that storage failures leave it as coded SkalaErrors (STORAGE_FULL, DATABASE_BUSY,
 * SERVICE_UNAVAILABLE) and a failed rollback never hides the error that caused it. SQLite rolls a transaction
 * back itself after SQLITE_FULL or an I/O error; Kysely's ROLLBACK then fails with "cannot rollback - no
 * transaction is active", and without this the caller would see that instead of the disk being full.
 */
class ClassifyingDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly hooks: StorageErrorHooks,
  ) {}

  private async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw toStorageError(error);
    }
  }

  init(): Promise<void> {
    return this.call(() => this.inner.init());
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return track(await this.call(() => this.inner.acquireConnection()));
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    (connection as TrackedConnection).transactionError = undefined;
    await this.call(() => this.inner.beginTransaction(unwrap(connection), settings));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.inner.commitTransaction(unwrap(connection));
    } catch (error) {
      (connection as TrackedConnection).transactionError ??= error;
      throw toStorageError(error);
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const tracked = connection as TrackedConnection;
    const first = tracked.transactionError;
    tracked.transactionError = undefined;
    try {
      await this.inner.rollbackTransaction(tracked.inner);
    } catch (error) {
      // The transaction is gone already (SQLite rolled it back) or so is the connection (PostgreSQL drops a
      // broken client from its pool): nothing is left to undo, and the first error is what the caller throws.
      const moot =
        SQLITE_NOT_IN_TRANSACTION.test(String((error as Error)?.message)) ||
        classifyDatabaseError(error) === "SERVICE_UNAVAILABLE";
      if (first !== undefined && moot) {
        this.hooks.onError?.(error, `rollback after: ${String((first as Error)?.message ?? first)}`);
        return;
      }
      throw toStorageError(error);
    }
  }

  savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler["compileQuery"]) {
    const { savepoint } = this.inner;
    if (!savepoint) throw new Error("the driver does not support savepoints");
    return this.call(() => savepoint.call(this.inner, unwrap(connection), name, compile));
  }

  rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler["compileQuery"]) {
    const { rollbackToSavepoint } = this.inner;
    if (!rollbackToSavepoint) throw new Error("the driver does not support savepoints");
    return this.call(() => rollbackToSavepoint.call(this.inner, unwrap(connection), name, compile));
  }

  releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler["compileQuery"]) {
    const { releaseSavepoint } = this.inner;
    if (!releaseSavepoint) throw new Error("the driver does not support savepoints");
    return this.call(() => releaseSavepoint.call(this.inner, unwrap(connection), name, compile));
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(unwrap(connection));
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

function unwrap(connection: DatabaseConnection): DatabaseConnection {
  return (connection as TrackedConnection).inner;
}

/** A dialect whose driver reports storage failures with catalogue codes (see ClassifyingDriver). */
export function withStorageErrors(dialect: Dialect, hooks: StorageErrorHooks = {}): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new ClassifyingDriver(dialect.createDriver(), hooks),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}
