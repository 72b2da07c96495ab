import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliAgainstServer } from "../test-support/cli-harness.js";

const POLICY = `# promote a better challenger, but a person decides
name: nightly
rules:
  - when: { newData: { minActuals: 6 } }
    do: [evaluate]
evaluate: { test: dm, alpha: 0.05 }
promote: { margin: 0.05, approval: person }
limits:
  promote: { max: 1, perHours: 24 }
`;

describe("skala autopilot", () => {
  let cli: Awaited<ReturnType<typeof cliAgainstServer>>;
  const dir = mkdtempSync(join(tmpdir(), "skala-autopilot-cli-"));
  beforeAll(async () => {
    cli = await cliAgainstServer();
  });
  afterAll(async () => {
    await cli.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("puts a policy from a YAML file, gets and lists it, runs it and reads the ledger", async () => {
    const file = join(dir, "nightly.yaml");
    writeFileSync(file, POLICY);
    const put = await cli.run("autopilot", "policy", "put", file);
    expect(put.stdout, put.stderr).toMatch(/^stored policy nightly/);
    const policy = await cli.json<{ policy: { limits: unknown; evaluate: { minSamples: number } } }>(
      "autopilot",
      "policy",
      "get",
      "nightly",
    );
    expect(policy.policy).toMatchObject({
      limits: { promote: { max: 1, perHours: 24 } },
      evaluate: { minSamples: 8 },
    });
    expect((await cli.run("autopilot", "policy", "list")).stdout).toMatch(/nightly/);
    const report = await cli.json<{ policy: string; actions: unknown[] }>("autopilot", "run", "nightly");
    expect(report).toMatchObject({ policy: "nightly", actions: [] });
    expect(await cli.json("autopilot", "actions", "--kind", "promote")).toEqual([]);
    expect(await cli.json("autopilot", "approvals", "--status", "pending")).toEqual([]);
  });

  it("refuses an invalid policy file with every problem, before sending it", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(
      file,
      "name: bad\nrules:\n  - when: { schedule: { everyMinutes: 0 } }\n    do: [promote]\n",
    );
    const result = await cli.run("autopilot", "policy", "put", file);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error POLICY_INVALID: 2 problems/);
    expect(result.stderr).toMatch(/\/rules\/0\/when\/schedule\/everyMinutes/);
    expect(result.stderr).toMatch(/\/rules\/0\/do\/0/);
  });

  it("answers APPROVAL_NOT_FOUND for an unknown request", async () => {
    const result = await cli.run("autopilot", "approve", "apr_nope", "--by", "ana");
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error APPROVAL_NOT_FOUND/);
  });
});
