import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import SQLite from "better-sqlite3";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { createFsBlobStore } from "../artifacts/index.js";
import { systemClock } from "../core/index.js";
import { mountTinyFs } from "../core/test-support/tiny-fs.js";
import { createRegistry, DEFAULT_PROJECT } from "../registry/index.js";
import { migrateToLatest, openStore, type Store } from "../store/index.js";
import { buildApp, type SkalaApp } from "./app.js";

/** The real adapters (SQLite file, file-system blobs) behind the app, and the server log as parsed lines. */
async function storageApp(options: { databasePath: string; artifactsDir: string }) {
  const store = openStore(`sqlite:${options.databasePath}`, { onError: () => {} });
  await migrateToLatest(store);
  const registry = createRegistry({
    store,
    blobs: createFsBlobStore(options.artifactsDir),
    clock: systemClock,
    limits: { bulkMaxVersions: 10_000, pageSizeMax: 1_000, artifactMaxBytes: 8 << 20 },
  });
  await registry.projects.ensure(DEFAULT_PROJECT);
  const log: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) log.push(JSON.parse(line));
      done();
    },
  });
  const app = await buildApp({
    store,
    registry,
    bodyLimitBytes: 32 << 20,
    logger: { level: "error", stream },
  });
  return { app, store, log };
}

const versionCount = async (store: Store) =>
  Number(
    (
      await store.db
        .selectFrom("model_versions")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow()
    ).n,
  );

const bulk = (app: SkalaApp, versions: Array<{ model: string; bytes: Buffer }>) =>
  app.inject({
    method: "POST",
    url: `/api/v1/projects/${DEFAULT_PROJECT}/bulk/versions`,
    payload: {
      createModels: true,
      versions: versions.map((v) => ({
        model: v.model,
        runtime: "onnx",
        artifact: { base64: v.bytes.toString("base64") },
      })),
    },
  });

async function expectNoTemporaryFiles(artifactsDir: string): Promise<void> {
  for (let i = 0; i < 100 && readdirSync(join(artifactsDir, "tmp")).length > 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 20));
  expect(readdirSync(join(artifactsDir, "tmp"))).toEqual([]);
}

/** The log line of the failed request, with the driver's original error among the causes. */
const failureLogged = (log: Array<Record<string, unknown>>) =>
  log.find((line) => line.msg === "request failed") as
    | { err: { message: string; stack: string } }
    | undefined;

describe("storage failures through HTTP", () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), "skala-storage-http-"));
    dirs.push(d);
    return d;
  };
  const tinyArtifacts = mountTinyFs(1 << 20);
  const tinyDatabase = mountTinyFs(2 << 20);
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    for (const tiny of [tinyArtifacts, tinyDatabase]) if (typeof tiny !== "string") tiny.unmount();
  });
  const skipped = (tiny: unknown) => (typeof tiny === "string" ? ` (skipped: ${tiny})` : "");

  it.skipIf(typeof tinyArtifacts === "string")(
    `answers an artifact disk that is full with 507 STORAGE_FULL, storing neither row nor temporary file${skipped(tinyArtifacts)}`,
    async () => {
      const artifactsDir = join((tinyArtifacts as { dir: string }).dir, "artifacts");
      const { app, store, log } = await storageApp({ databasePath: join(dir(), "skala.db"), artifactsDir });
      try {
        const response = await bulk(app, [
          { model: "small", bytes: Buffer.alloc(10_000, 1) },
          { model: "too-big", bytes: Buffer.alloc(1_500_000, 2) },
        ]);
        expect(response.statusCode).toBe(507);
        expect(response.json()).toEqual({
          error: {
            code: "STORAGE_FULL",
            message:
              "the artifact storage has no space left (disk full or quota reached); nothing was stored",
          },
        });
        expect(response.headers["retry-after"]).toBeUndefined();
        expect(response.body).not.toMatch(/ENOSPC|tmp|\//);
        expect(failureLogged(log)?.err.message).toMatch(/ENOSPC: no space left on device/);
        expect(await versionCount(store)).toBe(0);
        // The registration answers at its first failed write; writes still under way then end (and clean up)
        // on their own.
        await expectNoTemporaryFiles(artifactsDir);

        const upload = await app.inject({
          method: "POST",
          url: "/api/v1/artifacts",
          headers: { "content-type": "application/octet-stream" },
          payload: Buffer.alloc(1_500_000, 3),
        });
        expect(upload.statusCode).toBe(507);
        expect(upload.json().error.code).toBe("STORAGE_FULL");
        expect(readdirSync(join(artifactsDir, "tmp"))).toEqual([]);
        const rows = await store.db.selectFrom("blobs").select("digest").execute();
        expect(rows).toHaveLength(0);
      } finally {
        await app.close();
        await store.close();
      }
    },
  );

  it.skipIf(typeof tinyDatabase === "string")(
    `answers a database disk that is full with 507 STORAGE_FULL and keeps the database intact${skipped(tinyDatabase)}`,
    async () => {
      const { app, store, log } = await storageApp({
        databasePath: join((tinyDatabase as { dir: string }).dir, "skala.db"),
        artifactsDir: join(dir(), "artifacts"),
      });
      try {
        expect((await bulk(app, [{ model: "before", bytes: Buffer.from("kept") }])).statusCode).toBe(201);
        const many = Array.from({ length: 3_000 }, (_, i) => ({
          model: `m-${i}`,
          bytes: Buffer.from(`v${i}`),
        }));
        const response = await bulk(app, many);
        expect(response.statusCode).toBe(507);
        expect(response.json().error.code).toBe("STORAGE_FULL");
        expect(response.body).not.toMatch(/SQLITE|rollback/);
        // The cause, not the rollback that failed after it, is in the log.
        expect(failureLogged(log)?.err.message).toMatch(/database or disk is full/);
        expect(failureLogged(log)?.err.message).not.toMatch(/cannot rollback/);
        expect(await versionCount(store)).toBe(1);
        expect(await store.integrityCheck()).toBe("ok");
      } finally {
        await app.close();
        await store.close();
      }
    },
  );

  it("answers a database at its size limit with 507 STORAGE_FULL and registers nothing of the batch", async () => {
    const { app, store, log } = await storageApp({
      databasePath: join(dir(), "skala.db"),
      artifactsDir: join(dir(), "artifacts"),
    });
    try {
      expect((await bulk(app, [{ model: "before", bytes: Buffer.from("kept") }])).statusCode).toBe(201);
      const { rows } = await sql<{ page_count: number }>`pragma page_count`.execute(store.db);
      await sql.raw(`pragma max_page_count = ${(rows[0]?.page_count ?? 0) + 20}`).execute(store.db);
      const many = Array.from({ length: 2_000 }, (_, i) => ({
        model: `m-${i}`,
        bytes: Buffer.from(`v${i}`),
      }));
      const response = await bulk(app, many);
      expect(response.statusCode).toBe(507);
      expect(response.json().error.code).toBe("STORAGE_FULL");
      expect(failureLogged(log)?.err.message).toMatch(/database or disk is full/);
      expect(await versionCount(store)).toBe(1);
      expect(await store.integrityCheck()).toBe("ok");
    } finally {
      await app.close();
      await store.close();
    }
  });

  it("answers a database another process holds locked with 503 DATABASE_BUSY and Retry-After", async () => {
    const databasePath = join(dir(), "skala.db");
    const { app, store, log } = await storageApp({ databasePath, artifactsDir: join(dir(), "artifacts") });
    const other = new SQLite(databasePath);
    try {
      await sql.raw("pragma busy_timeout = 100").execute(store.db);
      other.exec("begin immediate");
      const response = await app.inject({
        method: "POST",
        url: "/api/v1/projects",
        payload: { name: "acme" },
      });
      expect(response.statusCode).toBe(503);
      expect(response.headers["retry-after"]).toBe("1");
      expect(response.json().error.code).toBe("DATABASE_BUSY");
      expect(response.body).not.toMatch(/SQLITE/);
      expect(failureLogged(log)?.err.message).toMatch(/database is locked/);
      other.exec("rollback");
      const retried = await app.inject({
        method: "POST",
        url: "/api/v1/projects",
        payload: { name: "acme" },
      });
      expect(retried.statusCode).toBe(201);
    } finally {
      other.close();
      await app.close();
      await store.close();
    }
  });
});
