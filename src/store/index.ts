export { type DialectName, openStore, type Store, type StoreOptions } from "./database.js";
export { literalLimit } from "./literal-limit.js";
export { migrateToLatest, pendingMigrations } from "./migrations.js";
export type * from "./schema.js";
export { lockStore, type StoreLock } from "./store-lock.js";
