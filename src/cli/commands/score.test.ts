import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliAgainstServer } from "../test-support/cli-harness.js";

const QUICKSTART = fileURLToPath(new URL("../../../examples/quickstart/", import.meta.url));

describe("skala score", () => {
  let cli: Awaited<ReturnType<typeof cliAgainstServer>>;
  const dir = mkdtempSync(join(tmpdir(), "skala-score-"));
  beforeAll(async () => {
    cli = await cliAgainstServer({ scoring: true });
    await cli.json(
      "versions",
      "create",
      "part-A12",
      join(QUICKSTART, "model.onnx"),
      "--runtime",
      "onnx",
      "--create-model",
      "--alias",
      "champion",
    );
    await cli.json("datasets", "register", "recent-demand", join(QUICKSTART, "recent-demand.csv"));
  });
  afterAll(async () => {
    await cli.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("scores a dataset with the champion and downloads the CSV", async () => {
    const out = join(dir, "scores.csv");
    const result = await cli.run(
      "score",
      "part-A12",
      "--dataset",
      "recent-demand",
      "--passthrough",
      "part",
      "--out",
      out,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/scoring recent-demand:1 \(8 rows\) with part-A12 version 1: job \S+/);
    expect(result.stdout).toContain(`8 rows scored → ${out}`);
    const lines = readFileSync(out, "utf8").trim().split("\n");
    expect(lines[0]).toBe("part,forecast");
    expect(lines[1]).toMatch(/^A12,10\.6/);
  });

  it("submits without following and prints the job", async () => {
    const job = await cli.json<{ id: string; version: number; rowsTotal: number }>(
      "score",
      "part-A12",
      "--dataset",
      "recent-demand:1",
      "--batch-rows",
      "3",
      "--no-wait",
    );
    expect(job).toMatchObject({ version: 1, rowsTotal: 8 });
  });

  it("says the output folder is missing instead of throwing", async () => {
    const out = join(dir, "no", "such", "folder", "scores.csv");
    const result = await cli.run(
      "score",
      "part-A12",
      "--dataset",
      "recent-demand",
      "--batch-rows",
      "4",
      "--out",
      out,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`error FILE_UNWRITABLE: ${out}: cannot write: its folder does not exist\\n$`),
    );
  });

  it("refuses malformed references and columns, and reports the server's codes", async () => {
    const ref = await cli.run("score", "part-A12", "--dataset", "recent-demand:first");
    expect(ref.code).toBe(1);
    expect(ref.stderr).toMatch(
      /^error VALIDATION_FAILED: .*"recent-demand:first" is not a dataset name or name:version/,
    );
    const columns = await cli.run("score", "part-A12", "--dataset", "recent-demand", "--columns", "lags=");
    expect(columns.stderr).toMatch(/"lags=" is not input=column/);
    const model = await cli.run("score", "absent", "--dataset", "recent-demand", "--no-wait");
    expect(model.code).toBe(1);
    expect(model.stderr).toMatch(/^error MODEL_NOT_FOUND: /);
  });
});
