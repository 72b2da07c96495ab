import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliAgainstServer } from "../test-support/cli-harness.js";

const RECENT = fileURLToPath(new URL("../../../examples/quickstart/recent-demand.csv", import.meta.url));

describe("skala datasets", () => {
  let cli: Awaited<ReturnType<typeof cliAgainstServer>>;
  const dir = mkdtempSync(join(tmpdir(), "skala-datasets-"));
  beforeAll(async () => {
    cli = await cliAgainstServer();
  });
  afterAll(async () => {
    await cli.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("registers a CSV file as versions of a dataset, with its profiled schema", async () => {
    const first = await cli.json<{ version: number; rows: number; schema: string }>(
      "datasets",
      "register",
      "recent-demand",
      RECENT,
    );
    expect(first).toMatchObject({
      version: 1,
      rows: 8,
      schema: "part:string lag1:integer lag2:integer lag3:integer",
    });
    const again = await cli.json<{ version: number }>("datasets", "register", "recent-demand", RECENT);
    expect(again.version).toBe(1);
    const next = join(dir, "next.csv");
    writeFileSync(next, "part,lag1,lag2,lag3\nA12,14,12,10\n");
    expect((await cli.json<{ version: number }>("datasets", "register", "recent-demand", next)).version).toBe(
      2,
    );
    expect((await cli.run("datasets", "list")).stdout).toMatch(/recent-demand\s*│\s*2\s/);
    const versions = await cli.json<Array<{ version: number }>>("datasets", "versions", "recent-demand");
    expect(versions.map((v) => v.version).sort()).toEqual([1, 2]);
  });

  it("refuses a file that is no CSV without quoting any of it", async () => {
    // Bad quoting, a duplicate column, a ragged row: each has made the server quote the file before.
    for (const [name, text] of [
      ["quote", 'root:x:0:0:secret"x\n1\n'],
      ["duplicate", "root:x:0:0:secret,root:x:0:0:secret\n1,2\n"],
      ["ragged", "root:x:0:0:secret,x\ndaemon:x:1:1\n"],
    ]) {
      const file = join(dir, `${name}.csv`);
      writeFileSync(file, text as string);
      const result = await cli.run("datasets", "register", "etc-passwd", file);
      expect(result).toMatchObject({ code: 1, stdout: "" });
      expect(result.stderr).toMatch(/^error DATASET_INVALID: line [12]/);
      expect(result.stderr).not.toContain("secret");
    }
  });

  it("names a missing file or a folder, and sends nothing", async () => {
    const missing = await cli.run("datasets", "register", "other", join(dir, "nope.csv"));
    expect(missing).toMatchObject({
      code: 1,
      stderr: `error FILE_NOT_FOUND: ${join(dir, "nope.csv")}: no such file\n`,
    });
    const folder = await cli.run("datasets", "register", "other", dir);
    expect(folder.stderr).toBe(`error FILE_UNREADABLE: ${dir}: cannot read: it is a folder\n`);
    expect(await cli.json("datasets", "list")).not.toContainEqual(expect.objectContaining({ name: "other" }));
  });
});
