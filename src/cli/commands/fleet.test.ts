import { createHash } from "node:crypto";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SPEC_FILE_MAX_BYTES } from "../fleet-training.js";
import { cliAgainstServer } from "../test-support/cli-harness.js";

const QUICKSTART = fileURLToPath(new URL("../../../examples/quickstart/", import.meta.url));
const SECRET = "root:x:0:0:do-not-upload-me";

function spec(name: string, datasetPath: string): string {
  return `name: ${name}
dataset:
  path: ${JSON.stringify(datasetPath)}
  columns: { series: part, timestamp: month, value: demand }
frequency: monthly
horizon: 6
candidates: [ses]
`;
}

describe("skala fleet", () => {
  let cli: Awaited<ReturnType<typeof cliAgainstServer>>;
  const root = mkdtempSync(join(tmpdir(), "skala-fleet-cli-"));
  const specs = join(root, "specs");
  const secret = join(root, "secret.txt");

  /** Whether the server's artifact store holds these bytes. */
  const stored = async (bytes: Buffer) => {
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    return (await fetch(`${cli.url}/api/v1/artifacts/${digest}`)).status !== 404;
  };

  beforeAll(async () => {
    cli = await cliAgainstServer();
    mkdirSync(join(specs, "data"), { recursive: true });
    writeFileSync(secret, `${SECRET}\n`);
    copyFileSync(join(QUICKSTART, "demand.csv"), join(specs, "data", "demand.csv"));
    copyFileSync(join(QUICKSTART, "demand.csv"), join(root, "outside.csv"));
    writeFileSync(join(specs, "parent.yaml"), spec("parent", "../secret.txt"));
    writeFileSync(join(specs, "passwd.yaml"), spec("passwd", "../../../../../../../../../../etc/passwd"));
    writeFileSync(join(specs, "absolute.yaml"), spec("absolute", secret));
    symlinkSync(secret, join(specs, "link-out.csv"));
    writeFileSync(join(specs, "link-out.yaml"), spec("linkout", "link-out.csv"));
    symlinkSync(join(specs, "data", "demand.csv"), join(specs, "link-in.csv"));
    writeFileSync(join(specs, "link-in.yaml"), spec("linkin", "link-in.csv"));
    writeFileSync(join(specs, "inside.yaml"), spec("inside", "data/demand.csv"));
    writeFileSync(join(specs, "outside.yaml"), spec("outside", "../outside.csv"));
    writeFileSync(join(specs, "missing.yaml"), spec("missing", "data/absent.csv"));
  });
  afterAll(async () => {
    await cli.close();
    rmSync(root, { recursive: true, force: true });
  });

  it.each([
    ["a parent folder's file", "parent.yaml"],
    ["../../etc/passwd", "passwd.yaml"],
    ["an absolute path", "absolute.yaml"],
    ["a symlink pointing outside", "link-out.yaml"],
  ])(
    "refuses a dataset outside the spec's folder (%s), uploads nothing and quotes nothing",
    async (_what, file) => {
      const result = await cli.run("fleet", "train", join(specs, file), "--no-wait");
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /^error FILE_OUTSIDE_SPEC_DIR: .* is outside the spec's folder .*--allow-outside-spec-dir/,
      );
      expect(result.stderr).not.toContain("do-not-upload-me");
      expect(result.stderr).not.toMatch(/root:x:0:0/);
      expect(result.stdout).not.toContain("uploading");
      expect(await stored(readFileSync(secret))).toBe(false);
    },
  );

  it("quotes nothing of a file given as the spec, nor of a spec's dataset that is no CSV", async () => {
    // The secret file as the spec itself: read as YAML (one long string) and as JSON.
    for (const asSpec of [secret, join(specs, "secret.json")]) {
      copyFileSync(secret, asSpec);
      const result = await cli.run("fleet", "train", asSpec, "--no-wait");
      expect(result).toMatchObject({ code: 1, stdout: "" });
      expect(result.stderr).toMatch(/^error VALIDATION_FAILED: /);
      expect(result.stderr).not.toContain("do-not-upload-me");
    }
    // A dataset inside the folder whose first line is the secret: uploaded, refused by the server.
    copyFileSync(secret, join(specs, "data", "notes.csv"));
    writeFileSync(join(specs, "notes.yaml"), spec("notes", "data/notes.csv"));
    const result = await cli.run("fleet", "train", join(specs, "notes.yaml"), "--no-wait");
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error DATASET_INVALID: .*:1: missing columns "part", "month", "demand"/);
    expect(`${result.stdout}${result.stderr}`).not.toContain("do-not-upload-me");
  });

  it("trains a dataset inside the folder, also through a symlink that stays inside", async () => {
    const inside = await cli.json<{ run: { fleet: string; total: number } }>(
      "fleet",
      "train",
      join(specs, "inside.yaml"),
      "--no-wait",
    );
    expect(inside.run).toMatchObject({ fleet: "inside", total: 6 });
    const linked = await cli.json<{ run: { fleet: string } }>(
      "fleet",
      "train",
      join(specs, "link-in.yaml"),
      "--no-wait",
    );
    expect(linked.run.fleet).toBe("linkin");
  });

  it("uploads a dataset outside the folder only with --allow-outside-spec-dir", async () => {
    const refused = await cli.run("fleet", "train", join(specs, "outside.yaml"), "--no-wait");
    expect(refused.stderr).toMatch(/^error FILE_OUTSIDE_SPEC_DIR: /);
    const allowed = await cli.json<{ run: { fleet: string } }>(
      "fleet",
      "train",
      join(specs, "outside.yaml"),
      "--no-wait",
      "--allow-outside-spec-dir",
    );
    expect(allowed.run.fleet).toBe("outside");
  });

  it("names a missing spec, a folder given as the spec, and a missing dataset", async () => {
    const spec = join(specs, "absent.yaml");
    expect(await cli.run("fleet", "train", spec)).toMatchObject({
      code: 1,
      stderr: `error FILE_NOT_FOUND: ${spec}: no such file\n`,
    });
    expect((await cli.run("fleet", "train", specs)).stderr).toBe(
      `error FILE_UNREADABLE: ${specs}: cannot read: it is a folder\n`,
    );
    expect((await cli.run("fleet", "train", join(specs, "missing.yaml"))).stderr).toBe(
      `error FILE_NOT_FOUND: ${join(specs, "data", "absent.csv")}: no such file\n`,
    );
  });

  it("refuses a spec file past its limit by its size, with the path and the limit, reading none of it", async () => {
    // 384 KiB and a byte, then a sparse gigabyte: reading either whole would be the bug (the second slowly).
    for (const size of [SPEC_FILE_MAX_BYTES + 1, 1 << 30]) {
      const big = join(specs, `big-${size}.yaml`);
      writeFileSync(big, spec("big", "data/demand.csv"));
      truncateSync(big, size);
      const result = await cli.run("fleet", "train", big, "--no-wait");
      expect(result).toMatchObject({
        code: 1,
        stdout: "",
        stderr: `error FILE_TOO_LARGE: ${big}: ${size} bytes, more than the ${SPEC_FILE_MAX_BYTES} bytes a fleet spec may have\n`,
      });
    }
    expect(SPEC_FILE_MAX_BYTES).toBe(384 * 1024);
  });

  it("shows status, lists and cancels a fleet's run", async () => {
    const status = await cli.run("fleet", "status", "inside");
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/done\s*│\s*0\/6/);
    expect((await cli.run("fleet", "list")).stdout).toMatch(/inside.*run_\w+.*6/);
    expect((await cli.json<{ status: string }>("fleet", "cancel", "inside")).status).toBe("cancelled");
    const absent = await cli.run("fleet", "status", "nope");
    expect(absent.code).toBe(1);
    expect(absent.stderr).toMatch(/^error FLEET_NOT_FOUND: /);
  });

  it("detaches on Ctrl-C while following: the run goes on, and the notice says how to follow or stop it", async () => {
    // No workers run in this server, so the run waits in the queue and the CLI follows it until interrupted.
    const following = cli.start(["fleet", "train", join(QUICKSTART, "fleet.yaml")]);
    const interrupt = setInterval(() => {
      if (following.stdout.text().includes("submitted")) following.signal("SIGINT");
    }, 50);
    const result = await following.done.finally(() => clearInterval(interrupt));
    expect(result.code).toBe(130);
    const runId = /run (run_\w+) submitted/.exec(result.stdout)?.[1] as string;
    expect(result.stderr).toContain(
      `detached: the run ${runId} goes on in the server; \`skala fleet status quickstart\` to follow, ` +
        "`skala fleet cancel quickstart` to stop it",
    );
    const status = await cli.json<{ run: { id: string; status: string } }>("fleet", "status", "quickstart");
    expect(status.run).toMatchObject({ id: runId, status: expect.stringMatching(/queued|running/) });
  });
});
