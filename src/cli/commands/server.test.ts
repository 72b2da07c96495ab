import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { CONFIG_FILE_MAX_BYTES } from "../../core/config.js";
import { type CliRun, runCli, startCli } from "../test-support/cli-harness.js";

/** Starts `skala up` in this process, makes one request, stops it with SIGTERM; returns what it printed. */
async function upAndRequest(
  dataDir: string,
  extraArgs: string[],
  stdoutIsTTY: boolean,
  env: Record<string, string> = {},
) {
  const up = startCli(["up", "--data-dir", dataDir, "--port", "0", "--log-level", "info", ...extraArgs], {
    stdoutIsTTY,
    env,
  });
  const url = await waitForUrl(up);
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  up.signal("SIGTERM");
  const result = await up.done;
  expect(result.code, result.stderr).toBe(0);
  return { url, stdout: stripVTControlCharacters(result.stdout), raw: result.stdout };
}

async function waitForUrl(run: CliRun): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const url = /Skala is up at (http:\/\/\S+)/.exec(run.stdout.text())?.[1];
    if (url) return url;
    const ended = await Promise.race([
      run.done,
      new Promise((resolve) => setTimeout(() => resolve(undefined), 50)),
    ]);
    if (ended) throw new Error(`skala up ended: ${JSON.stringify(ended)}`);
  }
  throw new Error(`skala up did not start: ${run.stdout.text()}${run.stderr.text()}`);
}

describe("skala up, migrate and gc", () => {
  const dir = mkdtempSync(join(tmpdir(), "skala-server-cli-"));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("logs human-readable lines on a terminal, and says how clients reach a non-default address", async () => {
    const { url, stdout, raw } = await upAndRequest(join(dir, "tty"), [], true);
    expect(raw).not.toBe(stdout); // coloured
    expect(stdout).toContain(`clients: export SKALA_SERVER=${url}`);
    expect(stdout).toMatch(/\[\d\d:\d\d:\d\d\.\d{3}\] INFO: incoming request GET \/healthz/);
    expect(stdout).toMatch(/INFO: request completed → 200 in [\d.]+ ms/);
    expect(stdout).not.toContain('{"level"');
  });

  it("logs JSON lines when stdout is not a terminal, or with --log-format json", async () => {
    for (const [args, tty] of [
      [[], false],
      [["--log-format", "json"], true],
    ] as const) {
      const { stdout } = await upAndRequest(join(dir, "json"), [...args], tty);
      const logLines = stdout.split("\n").filter((line) => line.startsWith("{"));
      const messages = logLines.map((line) => (JSON.parse(line) as { msg: string }).msg);
      expect(messages).toContain("incoming request");
      expect(messages).toContain("request completed");
    }
  });

  it("forces pretty lines with --log-format pretty even off a terminal", async () => {
    const { stdout, raw } = await upAndRequest(join(dir, "pretty"), ["--log-format", "pretty"], false);
    expect(stdout).toMatch(/INFO: incoming request GET \/healthz/);
    expect(raw).toBe(stdout); // no colours off a terminal
    const plain = await upAndRequest(join(dir, "pretty"), [], true, { NO_COLOR: "1" });
    expect(plain.raw).toBe(plain.stdout);
    expect(plain.stdout).toMatch(/INFO: incoming request GET \/healthz/);
  });

  it("migrates and garbage-collects the store a server command names", async () => {
    const dataDir = join(dir, "store");
    // SKALA_SERVER belongs to client commands; a server command passes over it.
    const migrated = await runCli(["migrate", "--data-dir", dataDir], {
      env: { SKALA_SERVER: "http://10.1.1.1:7070" },
    });
    expect(migrated).toMatchObject({ code: 0, stdout: "migrations applied; pending: 0\n" });
    const gc = await runCli(["gc", "--data-dir", dataDir, "--dry-run", "--json"]);
    expect(gc.code, gc.stderr).toBe(0);
    expect(JSON.parse(gc.stdout)).toMatchObject({ deleted: 0 });
  });

  it("refuses a config file past 1 MiB by its size, with the path and the limit, reading none of it", async () => {
    for (const size of [CONFIG_FILE_MAX_BYTES + 1, 1 << 30]) {
      const big = join(dir, `big-${size}.json`);
      writeFileSync(big, '{"server": {"port": 0}}');
      truncateSync(big, size);
      expect(await runCli(["migrate", "--config", big, "--data-dir", join(dir, "store")])).toMatchObject({
        code: 1,
        stdout: "",
        stderr: `error FILE_TOO_LARGE: ${big}: ${size} bytes, more than the ${CONFIG_FILE_MAX_BYTES} bytes a config file may have\n`,
      });
    }
    expect(CONFIG_FILE_MAX_BYTES).toBe(1024 * 1024);
  });

  it("names a missing config file, and never quotes a broken one", async () => {
    const missing = join(dir, "absent.json");
    expect(await runCli(["migrate", "--config", missing])).toMatchObject({
      code: 1,
      stderr: `error FILE_NOT_FOUND: ${missing}: no such file\n`,
    });
    const broken = join(dir, "broken.json");
    writeFileSync(broken, "password=hunter2\n");
    const result = await runCli(["migrate", "--config", broken, "--data-dir", join(dir, "store")]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error CONFIG_INVALID: /);
    expect(result.stderr).toContain("is not valid JSON");
    expect(result.stderr).not.toContain("hunter2");
    const badFlags = await runCli(["migrate", "--data-dir", dir, "--port", "99999", "--log-format", "xml"]);
    expect(badFlags.code).toBe(1);
    expect(badFlags.stderr).toContain("flag --port");
    expect(badFlags.stderr).toContain("flag --log-format");
  });
});
