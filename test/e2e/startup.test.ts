import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { runSkala, skalaProcess, startSkala, stopSkala } from "./server-process.js";

/** Runs `skala` and notes when `marker` first appears on stderr and when the process exits (or is killed). */
async function exitAfter(
  args: string[],
  marker: string,
  limitMs: number,
): Promise<{ code: number | null; stderr: string; exitedMsAfterMarker: number | undefined }> {
  const child: ChildProcess = skalaProcess(args);
  let stderr = "";
  let markedAt: number | undefined;
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
    if (markedAt === undefined && stderr.includes(marker)) markedAt = Date.now();
  });
  const killer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  const code = await new Promise<number | null>((resolve) => child.on("exit", (status) => resolve(status)));
  clearTimeout(killer);
  return { code, stderr, exitedMsAfterMarker: markedAt === undefined ? undefined : Date.now() - markedAt };
}

const noStackTrace = (stderr: string) => expect(stderr).not.toMatch(/^\s+at /m);

describe("skala up when it cannot start", () => {
  const dirs: string[] = [];
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "skala-startup-"));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("exits non-zero at once with ADDRESS_IN_USE when the port is taken", async () => {
    const blocker: Server = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, "127.0.0.1", () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      const run = await exitAfter(
        ["up", "--data-dir", dataDir(), "--port", String(port), "--workers", "true"],
        "error ADDRESS_IN_USE",
        30_000,
      );
      expect(run.stderr).toContain(
        `error ADDRESS_IN_USE: port ${port} on 127.0.0.1 is in use by another process; stop it, or start Skala on another port with --port`,
      );
      expect(run.code).toBe(1);
      // Not held open by a timer, a worker or the database it had opened.
      expect(run.exitedMsAfterMarker).toBeLessThan(3_000);
      noStackTrace(run.stderr);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it("refuses a second server on the same data dir, naming the first one's pid, and starts once it is gone", async () => {
    const dir = dataDir();
    const first = await startSkala(dir);
    let second: { url: string; child: ChildProcess } | undefined;
    try {
      const refused = await runSkala(["up", "--data-dir", dir, "--port", "0"]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        new RegExp(
          `^error DATABASE_IN_USE: the database .*skala\\.db is in use by another Skala server \\(pid ${first.child.pid} on `,
          "m",
        ),
      );
      noStackTrace(refused.stderr);
      // The first server is unharmed by the attempt.
      expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
      await stopSkala(first.child, "SIGKILL"); // a crash, not a clean stop: the lock must not outlive it
      second = await startSkala(dir);
      expect((await fetch(`${second.url}/readyz`)).status).toBe(200);
    } finally {
      await stopSkala(first.child);
      if (second) await stopSkala(second.child);
    }
  });

  it("gives a CLI command that finds the database locked DATABASE_BUSY after the busy timeout, not a stack", async () => {
    const dir = dataDir();
    // Another local process holds SQLite's write lock, longer than the 5 s busy timeout, before the schema
    // exists: migrating must write, and waits in vain.
    const other = new SQLite(join(dir, "skala.db"));
    other.pragma("journal_mode = WAL");
    other.exec("begin immediate");
    try {
      const started = Date.now();
      const busy = await runSkala(["migrate", "--data-dir", dir]);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toMatch(/^error DATABASE_BUSY: the database is busy/m);
      noStackTrace(busy.stderr);
      expect(Date.now() - started).toBeGreaterThanOrEqual(4_500);
    } finally {
      other.exec("rollback");
      other.close();
    }
    expect((await runSkala(["migrate", "--data-dir", dir])).code).toBe(0);
  });

  it("stops the server and exits when the fleet of `up --train` cannot be trained", async () => {
    const run = await exitAfter(
      ["up", "--data-dir", dataDir(), "--port", "0", "--train", "/nonexistent/fleet.yaml"],
      "error ",
      30_000,
    );
    expect(run.code).toBe(1);
    expect(run.exitedMsAfterMarker).toBeLessThan(3_000);
  });
});
