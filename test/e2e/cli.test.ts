import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestModel } from "../../src/serving/test-support/onnx-models/index.js";
import { runSkala, skalaProcess, startSkala, stopSkala } from "./server-process.js";

const ROOT = new URL("../..", import.meta.url);

/** The `skala` command against a running server, as a user drives it: tables by default, JSON for scripts. */
describe("skala CLI", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "skala-cli-"));
  let server: { url: string; child: ChildProcess };
  const cli = (...args: string[]) => runSkala([...args, "--server", server.url]);
  const json = async <T>(...args: string[]): Promise<T> => {
    const result = await cli(...args, "--json");
    expect(result.stderr, result.stderr).toBe("");
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as T;
  };

  beforeAll(async () => {
    server = await startSkala(dataDir);
  });
  afterAll(async () => {
    await stopSkala(server.child);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("prints help and rejects unknown commands with a non-zero status", async () => {
    const help = await runSkala(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("versions");
    const unknown = await runSkala(["frobnicate"]);
    expect(unknown.code).not.toBe(0);
    const { version } = JSON.parse(readFileSync(new URL("package.json", ROOT), "utf8")) as {
      version: string;
    };
    expect(await runSkala(["--version"])).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
  });

  it("talks to the server SKALA_SERVER names when no --server is given", async () => {
    await json("models", "create", "env-1");
    const listed = await runSkala(["models", "list", "--json"], { SKALA_SERVER: server.url });
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).items.map((m: { name: string }) => m.name)).toContain("env-1");
  });

  it("names a missing file without a stack trace", async () => {
    const missing = join(dataDir, "absent.onnx");
    const result = await cli("versions", "create", "pump-1", missing, "--runtime", "onnx");
    expect(result).toEqual({
      code: 1,
      stdout: "",
      stderr: `error FILE_NOT_FOUND: ${missing}: no such file\n`,
    });
  });

  it("exits quietly, with status 0, when the reader of its output goes away (`| head`)", async () => {
    const child = skalaProcess(["versions", "search", "--server", server.url]);
    // The reading end closes before the CLI writes anything, as when `head` has had its lines.
    child.stdout?.destroy();
    let stderr = "";
    child.stderr?.on("data", (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", (status) => resolve(status)));
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  });

  it("creates a model, uploads a version with an alias, resolves and searches it", async () => {
    const model = await json<{ name: string; tags: Record<string, string> }>(
      "models",
      "create",
      "pump-1",
      "--tag",
      "site=lund",
    );
    expect(model).toMatchObject({ name: "pump-1", tags: { site: "lund" } });
    const file = join(dataDir, "model.bin");
    // A real ONNX model: the server refuses versions it could never load.
    writeFileSync(file, buildTestModel({ kind: "linear", inputs: 3, outputs: 1, seed: 1 }));
    const version = await json<{ version: number; aliases: string[]; metrics: Record<string, number> }>(
      "versions",
      "create",
      "pump-1",
      file,
      "--runtime",
      "onnx",
      "--metric",
      "auc=0.93",
      "--alias",
      "champion",
    );
    expect(version).toMatchObject({ version: 1, aliases: ["champion"], metrics: { auc: 0.93 } });
    expect((await json<{ version: number }>("alias", "resolve", "pump-1@champion")).version).toBe(1);
    const found = await json<{ items: Array<{ model: string }> }>("versions", "search", "metrics.auc > 0.9");
    expect(found.items.map((v) => v.model)).toEqual(["pump-1"]);
    const table = await cli("models", "list");
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/pump-1.*site=lund/);
  });

  it("deploys a model with a traffic split and a shadow, lists and removes the deployment", async () => {
    const deployed = await json<{ routes: string; shadow: string; pinned: boolean }>(
      "deploy",
      "set",
      "pump-1",
      "--env",
      "test",
      "--route",
      "champion=90",
      "--route",
      "1=10",
      "--no-pin",
    );
    expect(deployed).toMatchObject({ routes: "champion 90%, 1 10%", pinned: false });
    const listed = await cli("deploy", "list", "--env", "test");
    expect(listed.stdout).toMatch(/pump-1.*champion 90%, 1 10%.*no/);
    const bad = await cli("deploy", "set", "pump-1", "--route", "champion=60");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/VALIDATION_FAILED.*sum to 60/s);
    const malformed = await cli("deploy", "set", "pump-1", "--route", "champion");
    expect(malformed.code).not.toBe(0);
    expect((await cli("deploy", "delete", "pump-1", "--env", "test")).code).toBe(0);
    const gone = await cli("deploy", "get", "pump-1", "--env", "test");
    expect(gone.stderr).toMatch(/DEPLOYMENT_NOT_FOUND/);
  });

  it("tracks a run and registers a dataset", async () => {
    const run = await json<{ id: string }>("runs", "create", "--name", "nightly", "--param", "method=ets");
    await json("runs", "log-metric", run.id, "mase", "0.81", "--step", "1");
    const finished = await json<{ status: string; latestMetrics: Record<string, number> }>(
      "runs",
      "finish",
      run.id,
    );
    expect(finished).toMatchObject({ status: "finished", latestMetrics: { mase: 0.81 } });
    const csv = join(dataDir, "demand.csv");
    writeFileSync(csv, "series_id,period,value\nA,1,3\nA,2,\n");
    const dataset = await json<{ rows: number; version: number }>("datasets", "register", "demand", csv);
    expect(dataset).toMatchObject({ rows: 2, version: 1 });
  });

  it("fails with the error code and a non-zero status", async () => {
    const missing = await cli("models", "get", "absent");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("error MODEL_NOT_FOUND");
    const badFilter = await cli("versions", "search", "metrics.auc >");
    expect(badFilter.code).toBe(1);
    expect(badFilter.stderr).toContain("error FILTER_INVALID");
    const badMetric = await cli(
      "versions",
      "create",
      "pump-1",
      join(dataDir, "model.bin"),
      "--runtime",
      "onnx",
      "--metric",
      "auc=high",
    );
    expect(badMetric.code).not.toBe(0);
    const unreachable = await runSkala(["models", "list", "--server", "http://127.0.0.1:1"]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain("error SERVER_UNREACHABLE");
  });

  it("rejects invalid configuration with every problem listed", async () => {
    const result = await runSkala([
      "migrate",
      "--data-dir",
      dataDir,
      "--port",
      "99999",
      "--log-level",
      "loud",
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("error CONFIG_INVALID");
    expect(result.stderr).toContain("flag --port");
    expect(result.stderr).toContain("flag --log-level");
  });

  it("detaches from `fleet train` on Ctrl-C: the run goes on, exit status 130", {
    timeout: 120_000,
  }, async () => {
    // A server without workers: the run stays queued, so the CLI is still following it when interrupted.
    const idleDir = mkdtempSync(join(tmpdir(), "skala-cli-idle-"));
    const idle = await startSkala(idleDir, ["--workers", "false"]);
    try {
      const child = skalaProcess(["fleet", "train", "examples/quickstart/fleet.yaml", "--server", idle.url]);
      let stdout = "";
      let stderr = "";
      child.stdout?.on("data", (chunk) => {
        stdout += chunk;
      });
      child.stderr?.on("data", (chunk) => {
        stderr += chunk;
      });
      const exited = new Promise<number | null>((resolve) => child.on("exit", (status) => resolve(status)));
      // Once: the CLI listens from the moment it prints the submission; a second Ctrl-C would kill it.
      const interrupt = setInterval(() => {
        if (!stdout.includes("submitted")) return;
        clearInterval(interrupt);
        child.kill("SIGINT");
      }, 100);
      const code = await exited.finally(() => clearInterval(interrupt));
      const runId = /run (run_\w+) submitted/.exec(stdout)?.[1] as string;
      expect(code, stderr).toBe(130);
      expect(stderr).toContain(
        `detached: the run ${runId} goes on in the server; \`skala fleet status quickstart --server ${idle.url}\` ` +
          `to follow, \`skala fleet cancel quickstart --server ${idle.url}\` to stop it\n`,
      );
      const status = await runSkala(["fleet", "status", "quickstart", "--server", idle.url, "--json"]);
      expect(JSON.parse(status.stdout).run).toMatchObject({ id: runId, status: "queued" });
    } finally {
      await stopSkala(idle.child);
      rmSync(idleDir, { recursive: true, force: true });
    }
  });

  it("garbage-collects nothing that is referenced", async () => {
    const result = await runSkala(["gc", "--data-dir", dataDir, "--gc-grace-seconds", "0", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { referenced: number; deleted: number };
    expect(report.referenced).toBeGreaterThanOrEqual(2);
    expect(report.deleted).toBe(0);
  });
});
