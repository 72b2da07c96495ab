import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliAgainstServer } from "../test-support/cli-harness.js";

const MODEL = fileURLToPath(new URL("../../../examples/quickstart/model.onnx", import.meta.url));

describe("skala alias", () => {
  let cli: Awaited<ReturnType<typeof cliAgainstServer>>;
  beforeAll(async () => {
    cli = await cliAgainstServer();
    for (let i = 0; i < 2; i++)
      await cli.json("versions", "create", "pump", MODEL, "--runtime", "onnx", "--create-model");
  });
  afterAll(async () => {
    await cli.close();
  });

  it("sets, resolves, lists and moves an alias, keeping its history", async () => {
    expect(await cli.json("alias", "set", "pump", "champion", "1", "--reason", "first")).toMatchObject({
      alias: "champion",
      version: 1,
    });
    expect((await cli.json<{ version: number }>("alias", "resolve", "pump@champion")).version).toBe(1);
    await cli.json("alias", "set", "pump", "champion", "2");
    const listed = await cli.run("alias", "list", "pump");
    expect(listed.stdout).toMatch(/champion.*2/);
    const history = await cli.json<Array<{ fromVersion: number | null; toVersion: number }>>(
      "alias",
      "history",
      "pump",
      "--alias",
      "champion",
    );
    expect(history.map((c) => [c.fromVersion, c.toVersion])).toEqual([
      [1, 2],
      [null, 1],
    ]);
  });

  it("deletes an alias, after which it no longer resolves", async () => {
    expect((await cli.run("alias", "delete", "pump", "champion")).stdout).toBe("deleted pump@champion\n");
    const gone = await cli.run("alias", "resolve", "pump@champion");
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^error (ALIAS_NOT_FOUND|VERSION_NOT_FOUND): /);
  });

  it("refuses a version that is not a positive integer", async () => {
    const result = await cli.run("alias", "set", "pump", "champion", "two");
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error VALIDATION_FAILED: .*"two" is not a positive integer/);
  });
});
