import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliAgainstServer } from "../test-support/cli-harness.js";

const MODEL = fileURLToPath(new URL("../../../examples/quickstart/model.onnx", import.meta.url));

describe("skala deploy", () => {
  let cli: Awaited<ReturnType<typeof cliAgainstServer>>;
  beforeAll(async () => {
    cli = await cliAgainstServer();
    await cli.json(
      "versions",
      "create",
      "part-A12",
      MODEL,
      "--runtime",
      "onnx",
      "--create-model",
      "--alias",
      "champion",
    );
    await cli.json("versions", "create", "part-A12", MODEL, "--runtime", "onnx", "--alias", "challenger");
  });
  afterAll(async () => {
    await cli.close();
  });

  it("splits traffic with a shadow, lists, shows and removes the deployment", async () => {
    const deployed = await cli.json<{ routes: string; shadow: string; pinned: boolean }>(
      "deploy",
      "set",
      "part-A12",
      "--env",
      "test",
      "--route",
      "champion=90",
      "--route",
      "challenger=10",
      "--shadow",
      "1",
      "--no-pin",
    );
    expect(deployed).toMatchObject({ routes: "champion 90%, challenger 10%", shadow: "1", pinned: false });
    expect((await cli.run("deploy", "list", "--env", "test")).stdout).toMatch(
      /part-A12.*champion 90%, challenger 10%.*1.*no/,
    );
    expect((await cli.json<{ routes: string }>("deploy", "get", "part-A12", "--env", "test")).routes).toBe(
      "champion 90%, challenger 10%",
    );
    expect((await cli.run("deploy", "delete", "part-A12", "--env", "test")).stdout).toBe(
      "deleted the deployment of part-A12 in test\n",
    );
    const gone = await cli.run("deploy", "get", "part-A12", "--env", "test");
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^error DEPLOYMENT_NOT_FOUND: /);
  });

  it("leaves weights to the server and malformed routes and environments to the parser", async () => {
    const sum = await cli.run("deploy", "set", "part-A12", "--route", "champion=60");
    expect(sum.code).toBe(1);
    expect(sum.stderr).toMatch(/^error VALIDATION_FAILED: .*sum to 60/s);
    const malformed = await cli.run("deploy", "set", "part-A12", "--route", "champion");
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toMatch(/"champion" is not target=weight/);
    const env = await cli.run("deploy", "list", "--env", "staging");
    expect(env.code).toBe(1);
    expect(env.stderr).toMatch(/"staging" is not an environment/);
  });
});
