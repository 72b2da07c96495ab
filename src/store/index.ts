export { openStore, type Store, type StoreOptions } from "./database.js";
export { type Executor, inTransaction } from "./executor.js";
export { literalLimit } from "./literal-limit.js";
export { migrateToLatest, pendingMigrations } from "./migrations.js";
export type * from "./schema.js";
export type { DialectName, SqlDialect } from "./sql-dialect.js";
export { lockStore, type StoreLock } from "./store-lock.js";
