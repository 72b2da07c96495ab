import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliAgainstServer } from "../test-support/cli-harness.js";

describe("skala models", () => {
  let cli: Awaited<ReturnType<typeof cliAgainstServer>>;
  beforeAll(async () => {
    cli = await cliAgainstServer();
  });
  afterAll(async () => {
    await cli.close();
  });

  it("creates a model with tags and shows it as JSON and as a table", async () => {
    const created = await cli.json<{ name: string; tags: Record<string, string> }>(
      "models",
      "create",
      "part-A12",
      "--tag",
      "family=brakes",
      "--description",
      "front pads",
    );
    expect(created).toMatchObject({ name: "part-A12", tags: { family: "brakes" } });
    const table = await cli.run("models", "list", "--tag", "family=brakes");
    expect(table).toMatchObject({ code: 0, stderr: "" });
    expect(table.stdout).toMatch(/part-A12.*family=brakes/);
    const shown = await cli.json<{ description: string }>("models", "get", "part-A12");
    expect(shown.description).toBe("front pads");
  });

  it("pages with --limit and says how to continue", async () => {
    await cli.json("models", "create", "part-B1");
    const first = await cli.run("models", "list", "--limit", "1");
    expect(first.stdout).toMatch(/more: --cursor \S+/);
    const cursor = /more: --cursor (\S+)/.exec(first.stdout)?.[1] as string;
    const second = await cli.json<{ items: Array<{ name: string }> }>(
      "models",
      "list",
      "--limit",
      "1",
      "--cursor",
      cursor,
    );
    expect(second.items).toHaveLength(1);
    expect(first.stdout).not.toContain(second.items[0]?.name);
  });

  it("archives and restores", async () => {
    expect((await cli.json<{ archived: boolean }>("models", "archive", "part-B1")).archived).toBe(true);
    expect((await cli.json<{ archived: boolean }>("models", "restore", "part-B1")).archived).toBe(false);
  });

  it("prints the server's error code and exits 1", async () => {
    const missing = await cli.run("models", "get", "absent");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error MODEL_NOT_FOUND: /);
    const twice = await cli.run("models", "create", "part-A12");
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/^error MODEL_EXISTS: /);
  });

  it("refuses bad values before sending anything", async () => {
    const badTag = await cli.run("models", "create", "part-C1", "--tag", "family");
    expect(badTag.code).toBe(1);
    expect(badTag.stderr).toMatch(/^error VALIDATION_FAILED: .*tag "family" must look like key=value/);
    expect((await cli.run("models", "get", "part-C1")).stderr).toMatch(/MODEL_NOT_FOUND/);
    const badLimit = await cli.run("models", "list", "--limit", "0");
    expect(badLimit.code).toBe(1);
    expect(badLimit.stderr).toMatch(/"0" is not a positive integer/);
    const badChoice = await cli.run("models", "list", "--sort", "size");
    expect(badChoice.code).toBe(1);
    expect(badChoice.stderr).toMatch(/^error VALIDATION_FAILED: .*--sort/);
  });
});
