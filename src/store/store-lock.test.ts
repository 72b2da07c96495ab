import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { lockStore } from "./store-lock.js";

describe("lockStore", () => {
  const dir = mkdtempSync(join(tmpdir(), "skala-lock-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const url = (name: string) => `sqlite:${join(dir, name)}`;

  it("needs no lock for PostgreSQL or an in-memory database", () => {
    expect(lockStore("postgres://localhost/skala")).toBeUndefined();
    expect(lockStore("sqlite::memory:")).toBeUndefined();
  });

  it("refuses a second holder, naming the first one's pid, until the first releases", () => {
    const first = lockStore(url("a.db"));
    expect(first?.path).toBe(join(dir, "a.db.lock"));
    let refused: unknown;
    try {
      lockStore(url("a.db"));
    } catch (error) {
      refused = error;
    }
    expect(refused).toMatchObject({
      code: "DATABASE_IN_USE",
      details: { pid: process.pid, lockFile: join(dir, "a.db.lock") },
    });
    expect((refused as Error).message).toContain(`pid ${process.pid}`);
    first?.release();
    first?.release(); // idempotent
    const second = lockStore(url("a.db"));
    expect(second).toBeDefined();
    second?.release();
  });

  it("is free again once a holder process is killed with SIGKILL: no stale lock", async () => {
    const holder = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "-e",
        `import("./src/store/store-lock.ts").then((m) => { m.lockStore(${JSON.stringify(url("b.db"))}); console.log("locked"); setInterval(() => {}, 1000); });`,
      ],
      { cwd: join(import.meta.dirname, "../.."), stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve, reject) => {
      holder.stdout?.on("data", (chunk) => String(chunk).includes("locked") && resolve());
      holder.on("exit", (code) => reject(new Error(`holder exited with ${code}`)));
    });
    expect(() => lockStore(url("b.db"))).toThrow(/in use by another Skala server \(pid \d+/);
    const exited = new Promise((resolve) => holder.once("exit", resolve));
    holder.kill("SIGKILL");
    await exited;
    const taken = lockStore(url("b.db"));
    expect(taken).toBeDefined();
    taken?.release();
  });
});
