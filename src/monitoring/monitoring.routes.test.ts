import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePrometheusText } from "../http/test-support/prometheus-text.js";
import { testApp } from "../http/test-support/test-app.js";
import { testDialects } from "../store/test-support/dialects.js";

describe.each(testDialects())("monitoring over HTTP on %s", (dialect) => {
  let harness: Awaited<ReturnType<typeof testApp>>;
  beforeAll(async () => {
    harness = await testApp({ dialect });
    await harness.registry.models.create("default", { name: "churn" });
  });
  afterAll(() => harness.close());

  const post = (path: string, payload: unknown) =>
    harness.app.inject({
      method: "POST",
      url: `/api/v1/projects/default/${path}`,
      payload: payload as object,
    });

  it("stores predictions, then their late feedback, and counts both", async () => {
    const at = new Date(Date.now() - 60_000).toISOString();
    const predictions = await post("predictions", {
      predictions: [
        { predictionId: "r-1", model: "churn", version: 1, at, features: [1, 2], outputs: [0.8] },
        { predictionId: "r-2", model: "churn", version: 1, at, features: [3, 4], outputs: [0.2] },
      ],
    });
    expect(predictions.statusCode, predictions.body).toBe(200);
    expect(predictions.json()).toEqual({ kind: "predictions", accepted: 2 });
    const feedback = await post("feedback", {
      feedback: [{ model: "churn", predictionId: "r-1", actual: 1 }],
    });
    expect(feedback.statusCode, feedback.body).toBe(200);
    expect(feedback.json()).toEqual({ kind: "feedback", accepted: 1 });
  });

  it("answers 422 FEEDBACK_INVALID with every problem, rows the schema would refuse included", async () => {
    const response = await post("feedback", {
      feedback: [
        { model: "churn", predictionId: "r-2", actual: 0 },
        { model: "churn", predictionId: "nope", actual: 1 },
        { model: "churn", predictionId: "r-2", actual: "NaN" },
        { model: "churn", predictionId: 7, actual: 1 },
      ],
    });
    expect(response.statusCode).toBe(422);
    const { error } = response.json();
    expect(error.code).toBe("FEEDBACK_INVALID");
    expect(error.details.problems.map((p: { index: number; reason: string }) => [p.index, p.reason])).toEqual(
      [
        [1, "unknown_prediction"],
        [2, "not_finite"],
        [3, "invalid_type"],
      ],
    );
    expect(error.details.reasons).toEqual({ unknown_prediction: 1, not_finite: 1, invalid_type: 1 });
    // Nothing of it was stored: r-2's actual still goes in.
    expect(
      (await post("feedback", { feedback: [{ model: "churn", predictionId: "r-2", actual: 0 }] })).statusCode,
    ).toBe(200);
    const counts = await harness.app.inject({
      method: "GET",
      url: "/api/v1/projects/default/monitoring/ingest-counts",
    });
    expect(counts.json()).toMatchObject({
      predictions: { accepted: 2 },
      feedback: { accepted: 2, rejected_batches: 1, rejected_rows: 3, unknown_prediction: 1 },
    });
    const metrics = parsePrometheusText((await harness.app.inject({ method: "GET", url: "/metrics" })).body);
    const rows = metrics.get("skala_monitor_ingest_rows_total");
    const value = (outcome: string) =>
      rows?.samples.find((s) => s.labels.kind === "feedback" && s.labels.outcome === outcome)?.value;
    expect(value("accepted")).toBe(2);
    expect(value("unknown_prediction")).toBe(1);
  });

  it("refuses a body without its array, and an unknown project", async () => {
    const missing = await post("predictions", { rows: [] });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.code).toBe("VALIDATION_FAILED");
    const project = await harness.app.inject({
      method: "POST",
      url: "/api/v1/projects/nowhere/predictions",
      payload: { predictions: [] },
    });
    expect(project.statusCode).toBe(404);
    expect(project.json().error.code).toBe("PROJECT_NOT_FOUND");
  });
});
