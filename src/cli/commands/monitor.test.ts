import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliAgainstServer } from "../test-support/cli-harness.js";

describe("skala monitor ingest", () => {
  let cli: Awaited<ReturnType<typeof cliAgainstServer>>;
  const dir = mkdtempSync(join(tmpdir(), "skala-monitor-"));
  const at = new Date(Date.now() - 3_600_000).toISOString();
  beforeAll(async () => {
    cli = await cliAgainstServer();
    await cli.json("models", "create", "churn");
  });
  afterAll(async () => {
    await cli.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sends a CSV of predictions in batches, then JSON-lines feedback", async () => {
    const csv = join(dir, "predictions.csv");
    const lines = ["predictionId,model,version,at,features.age,features.spend,outputs.p"];
    for (let i = 0; i < 7; i++) lines.push(`c-${i},churn,1,${at},${30 + i},${i * 1.5},0.${i}`);
    writeFileSync(csv, `${lines.join("\n")}\n`);
    const stored = await cli.json<{ accepted: number; batches: number }>(
      "monitor",
      "ingest",
      "predictions",
      csv,
      "--batch-size",
      "3",
    );
    expect(stored).toEqual({ accepted: 7, batches: 3 });
    const jsonl = join(dir, "feedback.jsonl");
    writeFileSync(
      jsonl,
      `${JSON.stringify({ model: "churn", predictionId: "c-1", actual: 1 })}\n\n${JSON.stringify({ model: "churn", predictionId: "c-2", actual: [0] })}\n`,
    );
    const result = await cli.run("monitor", "ingest", "feedback", jsonl);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`2 feedback rows stored in 1 batches from ${jsonl}\n`);
  });

  it("names the file lines of a refused batch and says what was stored before it", async () => {
    const jsonl = join(dir, "bad.jsonl");
    const good = (id: string) =>
      JSON.stringify({ predictionId: id, model: "churn", version: 1, at, features: [1, 2], outputs: [0.5] });
    writeFileSync(
      jsonl,
      [
        good("j-1"),
        good("j-2"),
        good("j-3"),
        "{not json",
        JSON.stringify({
          predictionId: "j-5",
          model: "churn",
          version: 1,
          at,
          features: [1, "NaN"],
          outputs: [1],
        }),
      ].join("\n"),
    );
    const result = await cli.run("monitor", "ingest", "predictions", jsonl, "--batch-size", "3");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${jsonl}:4: invalid_type: a prediction must be an object`);
    expect(result.stderr).toContain(`${jsonl}:5: not_finite (features/1)`);
    expect(result.stderr).toMatch(
      /error PREDICTIONS_INVALID: .*the batch of lines 4–5 was refused, nothing of it stored \(3 rows in 1 earlier batches stay stored\)/,
    );
  });

  it("says the file is missing", async () => {
    const result = await cli.run("monitor", "ingest", "feedback", join(dir, "none.jsonl"));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/error FILE_NOT_FOUND: .*none\.jsonl: no such file\n$/);
  });
});
