import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createFsBlobStore } from "../artifacts/index.js";
import { loadConfig, type SkalaConfig, systemClock } from "../core/index.js";
import { createRegistry, DEFAULT_PROJECT } from "../registry/index.js";
import { lockStore, migrateToLatest, openStore } from "../store/index.js";
import { OpenedResources, openServices, startServer } from "./compose.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function config(flags: Record<string, unknown> = {}): SkalaConfig {
  const dataDir = mkdtempSync(join(tmpdir(), "skala-compose-"));
  dirs.push(dataDir);
  return loadConfig({
    env: {},
    cwd: dataDir,
    flags: { dataDir, "server.port": 0, "log.level": "silent", "workers.trainingThreads": 1, ...flags },
  });
}

/** Handles that keep the event loop alive, by type: what a hang after a failed start would be made of. */
function liveHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/** The handles of `after` that `before` did not have (a timer of the test runner may have ended meanwhile). */
function added(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([type, n]) => [type, n - (before[type] ?? 0)] as const)
      .filter(([, n]) => n > 0),
  );
}

const settled = () => new Promise((resolve) => setTimeout(resolve, 50));

describe("OpenedResources", () => {
  it("closes in reverse order of opening, every one even when some fail, reporting each failure", async () => {
    const closed: string[] = [];
    const reported: Array<[string, string]> = [];
    const opened = new OpenedResources((what, error) => reported.push([what, (error as Error).message]));
    opened.add("store", () => closed.push("store"));
    opened.add("runtimes", async () => {
      closed.push("runtimes");
      throw new Error("runtime thread stuck");
    });
    opened.add("timer", () => closed.push("timer"));
    opened.add("workers", () => {
      closed.push("workers");
      throw new Error("lease release failed");
    });

    await opened.closeAll();
    await opened.closeAll(); // closing twice closes nothing more

    expect(closed).toEqual(["workers", "timer", "runtimes", "store"]);
    expect(reported).toEqual([
      ["closing the workers", "lease release failed"],
      ["closing the runtimes", "runtime thread stuck"],
    ]);
  });
});

describe("startServer", () => {
  let blocker: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (blocker ? blocker.close(resolve) : resolve(undefined)));
    blocker = undefined;
  });

  it("answers a taken port with ADDRESS_IN_USE and closes everything it had opened", async () => {
    const server = createServer();
    blocker = server;
    const port = await new Promise<number>((resolve) =>
      server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
    );
    const taken = config({ "server.port": port, "workers.enabled": true });
    await settled();
    const before = liveHandles();

    const error = await startServer(taken).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toMatchObject({ name: "SkalaError", code: "ADDRESS_IN_USE", details: { port } });
    expect((error as Error).message).toBe(
      `port ${port} on 127.0.0.1 is in use by another process; stop it, or start Skala on another port with --port`,
    );
    await settled();
    // No worker poll, retention timer or database handle is left to keep the process alive.
    expect(added(before, liveHandles())).toEqual({});
    // The database lock went with it: another server may start on the data dir.
    const lock = lockStore(taken.resolved.databaseUrl);
    expect(lock).toBeDefined();
    lock?.release();
  });

  it("refuses a data dir another server holds, before opening anything", async () => {
    const shared = config();
    const first = await startServer(shared);
    try {
      await expect(startServer(shared)).rejects.toMatchObject({
        code: "DATABASE_IN_USE",
        details: { pid: process.pid },
      });
      const health = await first.app.inject({ method: "GET", url: "/readyz" });
      expect(health.statusCode).toBe(200);
    } finally {
      await first.app.close();
    }
    const again = await startServer(shared);
    await again.app.close();
  });

  it("sweeps temporary files that crashed uploads left, keeping fresh ones", async () => {
    const crashed = config();
    const tmp = join(crashed.resolved.artifactsDir, "tmp");
    mkdirSync(tmp, { recursive: true });
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    for (let i = 0; i < 50; i++) {
      writeFileSync(join(tmp, `crashed-${i}.tmp`), Buffer.alloc(1000));
      utimesSync(join(tmp, `crashed-${i}.tmp`), twoHoursAgo, twoHoursAgo);
    }
    writeFileSync(join(tmp, "recent.tmp"), "another process may still be writing this");

    const { app } = await startServer(crashed);
    await app.close();

    expect(readdirSync(tmp)).toEqual(["recent.tmp"]);
  });

  it("logs a version that can never load once, at error level with its cause, however often it is requested", async () => {
    const served = config({ "log.level": "info" });
    // Registered by a process that does not check artifacts (a registry-only one): the bytes are no ONNX model.
    const store = openStore(served.resolved.databaseUrl);
    try {
      await migrateToLatest(store);
      const registry = createRegistry({
        store,
        blobs: createFsBlobStore(served.resolved.artifactsDir),
        clock: systemClock,
        limits: { bulkMaxVersions: 10, pageSizeMax: 100, artifactMaxBytes: 1 << 20 },
      });
      await registry.projects.ensure(DEFAULT_PROJECT);
      await registry.versions.bulkRegister(DEFAULT_PROJECT, {
        versions: [
          {
            model: "broken",
            runtime: "onnx",
            artifact: { base64: Buffer.from("not onnx").toString("base64") },
          },
        ],
      });
    } finally {
      await store.close();
    }
    const lines: string[] = [];
    const { app } = await startServer(served, { write: (line) => void lines.push(line) });
    try {
      const payload = { inputs: [{ name: "input", datatype: "FP32", shape: [1, 1], data: [1] }] };
      const inject = () => app.inject({ method: "POST", url: "/v2/models/broken/infer", payload });
      const first = await Promise.all(Array.from({ length: 5 }, inject));
      const later: Array<Awaited<ReturnType<typeof inject>>> = [];
      for (let i = 0; i < 5; i++) later.push(await inject());
      for (const res of [...first, ...later]) {
        expect(res.statusCode, res.body).toBe(500);
        expect(res.json()).toEqual({ error: expect.stringMatching(/cannot be served: it failed to load/) });
      }
    } finally {
      await app.close();
    }
    const errors = lines
      .map((line) => JSON.parse(line) as { level: number; msg: string; err?: { message?: string } })
      .filter((entry) => entry.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      msg: expect.stringMatching(/cannot be loaded/),
      cacheEvent: { type: "fail", model: "broken", version: 1, permanent: true },
      err: { message: expect.stringMatching(/onnxruntime could not load the model/) },
    });
  });

  it("gives the HTTP server the configured headers and request timeouts", async () => {
    const defaults = await startServer(config());
    try {
      expect(defaults.app.server.headersTimeout).toBe(10_000);
      expect(defaults.app.server.requestTimeout).toBe(0);
    } finally {
      await defaults.app.close();
    }
    const set = await startServer(
      config({ "server.headersTimeoutMs": 2_000, "server.requestTimeoutMs": 60_000 }),
    );
    try {
      expect(set.app.server.headersTimeout).toBe(2_000);
      expect(set.app.server.requestTimeout).toBe(60_000);
    } finally {
      await set.app.close();
    }
  });

  it("closes everything on app.close(): nothing keeps the process alive", async () => {
    await settled();
    const before = liveHandles();
    const { app } = await startServer(config({ "workers.enabled": true }));
    await app.close();
    await settled();
    expect(added(before, liveHandles())).toEqual({});
  });
});

describe("openServices", () => {
  it("reports background failures (the job queue losing its database) to the caller", async () => {
    const reported: Array<{ what: string; error: unknown }> = [];
    const services = await openServices(config(), {
      workers: true,
      onBackgroundError: (what, error) => reported.push({ what, error }),
    });
    try {
      await services.store.close(); // the database goes away under the running workers
      for (let i = 0; i < 200 && !reported.some((r) => r.what === "job worker"); i++) await settled();
      expect(reported.find((r) => r.what === "job worker")?.error).toBeInstanceOf(Error);
    } finally {
      await services.close();
    }
  });
});
