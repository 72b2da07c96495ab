import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SIGNATURE_FILE_MAX_BYTES } from "../files.js";
import { cliAgainstServer } from "../test-support/cli-harness.js";

const MODEL = fileURLToPath(new URL("../../../examples/quickstart/model.onnx", import.meta.url));

describe("skala versions", () => {
  let cli: Awaited<ReturnType<typeof cliAgainstServer>>;
  const dir = mkdtempSync(join(tmpdir(), "skala-versions-"));
  beforeAll(async () => {
    cli = await cliAgainstServer();
    await cli.json("models", "create", "part-A12", "--tag", "family=brakes");
  });
  afterAll(async () => {
    await cli.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("uploads a model file as the next version, with metrics, tags and an alias", async () => {
    const version = await cli.json<{ version: number; aliases: string[]; metrics: object; tags: object }>(
      "versions",
      "create",
      "part-A12",
      MODEL,
      "--runtime",
      "onnx",
      "--metric",
      "mase=0.82",
      "--tag",
      "segment=A12",
      "--alias",
      "champion",
    );
    expect(version).toMatchObject({
      version: 1,
      aliases: ["champion"],
      metrics: { mase: 0.82 },
      tags: { segment: "A12" },
    });
    expect((await cli.json<{ version: number }>("versions", "get", "part-A12", "champion")).version).toBe(1);
    const listed = await cli.run("versions", "list", "part-A12");
    expect(listed.stdout).toMatch(/part-A12.*1.*onnx.*champion.*mase=0\.82/);
  });

  it("searches version tags and metrics; model tags are not version tags", async () => {
    const byVersionTag = await cli.json<{ items: Array<{ model: string }> }>(
      "versions",
      "search",
      'metrics.mase < 0.9 and tags.segment = "A12"',
    );
    expect(byVersionTag.items.map((v) => v.model)).toEqual(["part-A12"]);
    // `family` is the model's tag (models create --tag), which `models list --tag` filters on.
    const byModelTag = await cli.json<{ items: unknown[] }>("versions", "search", 'tags.family = "brakes"');
    expect(byModelTag.items).toEqual([]);
    const table = await cli.run("versions", "search", "metrics.mase < 0.9");
    expect(table.stdout).toMatch(/part-A12/);
  });

  it("names a missing or unreadable file, without a stack trace", async () => {
    const missing = join(dir, "absent.onnx");
    const result = await cli.run("versions", "create", "part-A12", missing, "--runtime", "onnx");
    expect(result).toMatchObject({ code: 1, stdout: "" });
    expect(result.stderr).toBe(`error FILE_NOT_FOUND: ${missing}: no such file\n`);
    const folder = await cli.run("versions", "create", "part-A12", dir, "--runtime", "onnx");
    expect(folder.code).toBe(1);
    expect(folder.stderr).toBe(`error FILE_UNREADABLE: ${dir}: cannot read: it is a folder\n`);
    const signature = await cli.run(
      "versions",
      "create",
      "part-A12",
      MODEL,
      "--runtime",
      "onnx",
      "--signature",
      join(dir, "absent.json"),
    );
    expect(signature.stderr).toMatch(/^error FILE_NOT_FOUND: .*absent\.json: no such file/);
  });

  it("refuses a signature file that is not JSON without quoting it, before uploading", async () => {
    const file = join(dir, "signature.json");
    writeFileSync(file, "hunter2-secret\n");
    const result = await cli.run(
      "versions",
      "create",
      "part-A12",
      MODEL,
      "--runtime",
      "onnx",
      "--signature",
      file,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error VALIDATION_FAILED: --signature .*signature\.json: not valid JSON/);
    expect(result.stderr).not.toContain("hunter2");
    expect((await cli.json<{ latestVersion: number }>("models", "get", "part-A12")).latestVersion).toBe(1);
  });

  it("refuses a signature file past 1 MiB by its size, with the path and the limit, before uploading", async () => {
    const file = join(dir, "huge-signature.json");
    writeFileSync(file, '{"inputs": [], "outputs": []}');
    truncateSync(file, 1 << 30);
    const latest = async () =>
      (await cli.json<{ latestVersion: number }>("models", "get", "part-A12")).latestVersion;
    const before = await latest();
    const result = await cli.run(
      "versions",
      "create",
      "part-A12",
      MODEL,
      "--runtime",
      "onnx",
      "--signature",
      file,
    );
    expect(result).toMatchObject({
      code: 1,
      stdout: "",
      stderr: `error FILE_TOO_LARGE: ${file}: ${1 << 30} bytes, more than the ${SIGNATURE_FILE_MAX_BYTES} bytes a --signature file may have\n`,
    });
    expect(SIGNATURE_FILE_MAX_BYTES).toBe(1024 * 1024);
    expect(await latest()).toBe(before);
  });

  it("refuses a forecast artifact that is no JSON without quoting it", async () => {
    const file = join(dir, "model.json");
    writeFileSync(file, "root:x:0:0:secret\n");
    const result = await cli.run("versions", "create", "part-A12", file, "--runtime", "skala.forecast");
    expect(result).toMatchObject({ code: 1, stdout: "" });
    expect(result.stderr).toMatch(/^error VERSION_UNLOADABLE: .*forecast artifact is not UTF-8 JSON/);
    expect(result.stderr).not.toContain("secret");
  });

  it("refuses a metric that is not a number before uploading", async () => {
    const result = await cli.run(
      "versions",
      "create",
      "part-A12",
      MODEL,
      "--runtime",
      "onnx",
      "--metric",
      "auc=high",
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error VALIDATION_FAILED: .*metric auc=high is not a number/);
    expect((await cli.json<{ latestVersion: number }>("models", "get", "part-A12")).latestVersion).toBe(1);
  });

  it("reports a filter error with its code", async () => {
    const result = await cli.run("versions", "search", "metrics.mase >");
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error FILTER_INVALID: /);
  });

  it("refuses . and .. as names instead of answering from another route", async () => {
    // `models/../versions` resolves to the project's `versions`: every version of every model, listed as
    // if they were this model's. The client refuses such a segment before sending anything.
    for (const [args, name, value] of [
      [["versions", "list", ".."], "model", ".."],
      [["versions", "get", "part-A12", "."], "ref", "."],
      [["datasets", "versions", ".."], "dataset", ".."],
      [["runs", "get", ".."], "run", ".."],
      [["models", "list", "--project", ".."], "project", ".."],
    ] as const) {
      const result = await cli.run(...args);
      expect(result.code, args.join(" ")).toBe(1);
      expect(result.stdout, args.join(" ")).toBe("");
      expect(result.stderr.split("\n")[0], args.join(" ")).toBe(
        `error VALIDATION_FAILED: params/${name}: must not be "${value}", which a URL cannot carry as a path segment`,
      );
    }
  });
});
