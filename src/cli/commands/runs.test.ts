import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliAgainstServer } from "../test-support/cli-harness.js";

describe("skala runs", () => {
  let cli: Awaited<ReturnType<typeof cliAgainstServer>>;
  beforeAll(async () => {
    cli = await cliAgainstServer();
  });
  afterAll(async () => {
    await cli.close();
  });

  it("tracks a run: params, metrics by step, finish", async () => {
    const run = await cli.json<{ id: string; params: Record<string, string> }>(
      "runs",
      "create",
      "--name",
      "nightly",
      "--param",
      "method=ets",
    );
    expect(run.params).toEqual({ method: "ets" });
    expect(await cli.json("runs", "log-metric", run.id, "mase", "0.81", "--step", "1")).toEqual({
      logged: 1,
    });
    await cli.json("runs", "log-param", run.id, "horizon", "12");
    const finished = await cli.json<{ status: string; latestMetrics: object; params: object }>(
      "runs",
      "finish",
      run.id,
    );
    expect(finished).toMatchObject({
      status: "finished",
      latestMetrics: { mase: 0.81 },
      params: { method: "ets", horizon: "12" },
    });
    expect((await cli.run("runs", "list")).stdout).toMatch(
      new RegExp(`${run.id}.*nightly.*finished.*mase=0\\.81`),
    );
    const late = await cli.run("runs", "log-metric", run.id, "mase", "0.7");
    expect(late.code).toBe(1);
    expect(late.stderr).toMatch(/^error RUN_FINISHED: /);
  });

  it("refuses a metric value or step that is not a number, and an unknown status", async () => {
    const run = await cli.json<{ id: string }>("runs", "create");
    const value = await cli.run("runs", "log-metric", run.id, "mase", "low");
    expect(value.code).toBe(1);
    expect(value.stderr).toMatch(/^error VALIDATION_FAILED: .*"low" is not a number/);
    const step = await cli.run("runs", "log-metric", run.id, "mase", "1", "--step", "first");
    expect(step.stderr).toMatch(/"first" is not an integer/);
    const status = await cli.run("runs", "finish", run.id, "--status", "done");
    expect(status.stderr).toMatch(/^error VALIDATION_FAILED: .*--status/);
    expect(
      (await cli.json<{ latestMetrics: object; status: string }>("runs", "get", run.id)).latestMetrics,
    ).toEqual({});
  });
});
