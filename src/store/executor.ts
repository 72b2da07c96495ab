import type { Kysely, Transaction } from "kysely";
import type { Database } from "./schema.js";

/**
 * What a service or repository method runs its statements on: the store's database, or a transaction the
 * caller opened to make several writes one unit (`registry.runs.create(project, input, trx)`). Every writing
 * method takes one as its last parameter, defaulting to the store's database.
 */
export type Executor = Kysely<Database> | Transaction<Database>;

/**
 * Runs `work` in a transaction: the caller's when `db` is one already (the work joins it, and commits or rolls
 * back with it), a new one otherwise. Kysely cannot nest transactions; this is what lets a method that needs
 * one for itself also be a step of a larger one.
 */
export function inTransaction<T>(db: Executor, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db as Transaction<Database>) : db.transaction().execute(work);
}
