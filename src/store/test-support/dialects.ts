import { randomBytes } from "node:crypto";
import pg from "pg";
import { type DialectName, openStore, type Store } from "../database.js";
import { migrateToLatest } from "../migrations.js";

/**
 * The dialects every store test runs on. PostgreSQL joins when SKALA_TEST_POSTGRES_URL names a server
 * (CI always sets it and fails without it); `SKALA_TEST_DIALECTS=sqlite` narrows the list, like Kysely's DIALECTS.
 */
export function testDialects(): DialectName[] {
  const filter = process.env.SKALA_TEST_DIALECTS?.split(",").map((d) => d.trim());
  const available: DialectName[] = ["sqlite"];
  if (process.env.SKALA_TEST_POSTGRES_URL) available.push("postgres");
  else if (process.env.CI) {
    throw new Error("CI must test PostgreSQL too: set SKALA_TEST_POSTGRES_URL (.ci/run starts a server)");
  }
  return filter ? available.filter((d) => filter.includes(d)) : available;
}

export function postgresTestUrl(): string | undefined {
  return process.env.SKALA_TEST_POSTGRES_URL;
}

/**
 * A fresh, empty store of the given dialect, migrated to the latest schema unless `migrated` is false; `dispose`
 * drops it.
 */
export async function freshStore(
  dialect: DialectName,
  options: { migrated?: boolean } = {},
): Promise<{ store: Store; url: string; dispose(): Promise<void> }> {
  const migrate = options.migrated === false ? async () => {} : migrateToLatest;
  if (dialect === "sqlite") {
    const url = "sqlite::memory:";
    const store = openStore(url);
    await migrate(store);
    return { store, url, dispose: () => store.close() };
  }
  const adminUrl = postgresTestUrl();
  if (!adminUrl) throw new Error("SKALA_TEST_POSTGRES_URL is not set");
  const name = `skala_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const store = openStore(url.toString());
  await migrate(store);
  return {
    store,
    url: url.toString(),
    async dispose() {
      await store.close();
      const cleanup = new pg.Client({ connectionString: adminUrl });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}
