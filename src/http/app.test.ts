import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forecastArtifact } from "../serving/test-support/forecast-artifacts.js";
import { buildTestModel } from "../serving/test-support/onnx-models/index.js";
import type { SkalaApp } from "./app.js";
import { testApp } from "./test-support/test-app.js";

const API = "/api/v1/projects/default";

describe("HTTP API", () => {
  let app: SkalaApp;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ app, close } = await testApp());
  });
  afterAll(() => close());

  const json = (method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE", url: string, payload?: unknown) =>
    app.inject({ method, url, ...(payload !== undefined && { payload: payload as object }) });

  it("answers health, readiness and Prometheus metrics labelled by route template", async () => {
    expect((await json("GET", "/healthz")).statusCode).toBe(200);
    const ready = await json("GET", "/readyz");
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: "ready", database: "sqlite" });
    await json("GET", `${API}/models/some-model-1`);
    await json("GET", `${API}/models/some-model-2`);
    const metrics = await json("GET", "/metrics");
    expect(metrics.headers["content-type"]).toContain("text/plain");
    expect(metrics.body).toContain('route="/api/v1/projects/:project/models/:model"');
    expect(metrics.body).not.toContain("some-model-1");
  });

  it("serves the OpenAPI document and the interactive docs", async () => {
    const doc = (await json("GET", "/api/openapi.json")).json();
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toContain("/api/v1/projects/{project}/bulk/versions");
    const docs = await json("GET", "/api/docs/");
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain("swagger");
  });

  it("runs the model lifecycle over HTTP", async () => {
    const created = await json("POST", `${API}/models`, { name: "pump-7", tags: { site: "lund" } });
    expect(created.statusCode).toBe(201);
    expect((await json("POST", `${API}/models`, { name: "pump-7" })).json().error.code).toBe("MODEL_EXISTS");
    const onnx = buildTestModel({ kind: "linear", inputs: 3, outputs: 1, seed: 7 });
    const version = await json("POST", `${API}/models/pump-7/versions`, {
      runtime: "onnx",
      artifact: { base64: Buffer.from(onnx).toString("base64") },
      metrics: { auc: 0.91 },
    });
    expect(version.statusCode).toBe(201);
    expect(version.json().artifact.digest).toBe(`sha256:${createHash("sha256").update(onnx).digest("hex")}`);
    expect((await json("PUT", `${API}/models/pump-7/aliases/champion`, { version: 1 })).statusCode).toBe(200);
    expect((await json("GET", `${API}/models/pump-7/versions/champion`)).json().version).toBe(1);
    expect((await json("GET", `${API}/resolve/pump-7@champion`)).json().version).toBe(1);
    const search = await json("GET", `${API}/versions?filter=${encodeURIComponent("metrics.auc > 0.9")}`);
    expect(search.json().items.map((v: { model: string }) => v.model)).toEqual(["pump-7"]);
    expect((await json("GET", `${API}/models?tag=site=lund`)).json().items).toHaveLength(1);
    expect((await json("DELETE", `${API}/models/pump-7/aliases/champion`)).statusCode).toBe(204);
    expect((await json("GET", `${API}/models/pump-7/alias-history`)).json().items).toHaveLength(2);
    expect((await json("POST", `${API}/models/pump-7/archive`)).json().archived).toBe(true);
  });

  it("uploads artifacts as raw bytes, verifies a declared digest and downloads them", async () => {
    const bytes = Buffer.from("some model weights");
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    const up = await app.inject({
      method: "POST",
      url: "/api/v1/artifacts",
      headers: { "content-type": "application/octet-stream", "x-skala-digest": digest },
      payload: bytes,
    });
    expect(up.statusCode).toBe(201);
    expect(up.json()).toMatchObject({ digest, size: bytes.length, created: true });
    const again = await app.inject({
      method: "POST",
      url: "/api/v1/artifacts",
      payload: bytes,
      headers: { "content-type": "text/plain" },
    });
    expect(again.statusCode).toBe(200);
    const wrong = await app.inject({
      method: "POST",
      url: "/api/v1/artifacts",
      headers: { "content-type": "application/octet-stream", "x-skala-digest": `sha256:${"a".repeat(64)}` },
      payload: bytes,
    });
    expect(wrong.statusCode).toBe(422);
    expect(wrong.json().error.code).toBe("ARTIFACT_DIGEST_MISMATCH");
    const down = await json("GET", `/api/v1/artifacts/${digest}`);
    expect(down.rawPayload.equals(bytes)).toBe(true);
    expect((await json("GET", `/api/v1/artifacts/sha256:${"b".repeat(64)}`)).json().error.code).toBe(
      "ARTIFACT_NOT_FOUND",
    );
    expect((await json("GET", "/api/v1/artifacts/..%2F..%2Fetc%2Fpasswd")).statusCode).toBe(400);
  });

  it("rejects oversize artifacts with 413 and keeps nothing", async () => {
    const big = Buffer.alloc((1 << 20) + 1, 7);
    const res = await app.inject({
      method: "POST",
      url: "/api/v1/artifacts",
      payload: big,
      headers: { "content-type": "application/octet-stream" },
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe("ARTIFACT_TOO_LARGE");
  });

  it("names every offending field path in validation errors", async () => {
    const res = await json("POST", `${API}/bulk/versions`, {
      versions: [
        { model: "ok", runtime: "onnx", artifact: { json: 1 } },
        { model: "bad name!", runtime: "Not A Runtime", artifact: { digest: "md5:xyz" }, surprise: true },
      ],
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error.code).toBe("VALIDATION_FAILED");
    const paths = body.error.details.issues.map((i: { path: string }) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "body/versions/1/model",
        "body/versions/1/runtime",
        "body/versions/1/surprise",
      ]),
    );
  });

  it("answers malformed JSON, wrong content types, unknown routes and big bodies with coded 4xx", async () => {
    const malformed = await app.inject({
      method: "POST",
      url: `${API}/models`,
      payload: "{oops",
      headers: { "content-type": "application/json" },
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe("VALIDATION_FAILED");
    const wrongType = await app.inject({
      method: "POST",
      url: `${API}/models`,
      payload: "name=x",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(wrongType.statusCode).toBe(415);
    expect(wrongType.json().error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    const unknown = await json("GET", "/api/v1/nothing-here");
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe("NOT_FOUND");
    const huge = await app.inject({
      method: "POST",
      url: `${API}/models`,
      payload: JSON.stringify({ name: "x", description: "y".repeat(9 << 20) }),
      headers: { "content-type": "application/json" },
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().error.code).toBe("BODY_TOO_LARGE");
    expect(
      (await json("GET", `${API}/versions?filter=${encodeURIComponent("metrics.x ==")}`)).json().error.code,
    ).toBe("FILTER_INVALID");
    expect((await json("GET", `${API}/models?cursor=zzz`)).json().error.code).toBe("CURSOR_INVALID");
  });

  it("takes JSON bodies as typed and coerces only querystrings and path parameters", async () => {
    const onnx = Buffer.from(buildTestModel({ kind: "linear", inputs: 2, outputs: 1, seed: 3 })).toString(
      "base64",
    );
    const registered = await json("POST", `${API}/bulk/versions`, {
      createModels: true,
      versions: [1, 2, 3].map(() => ({ model: "typed", runtime: "onnx", artifact: { base64: onnx } })),
    });
    expect(registered.statusCode).toBeLessThan(300);
    const coerced = await json("PUT", `${API}/models/typed/aliases/champion`, { version: "3" });
    expect(coerced.statusCode).toBe(400);
    expect(coerced.json().error).toMatchObject({
      code: "VALIDATION_FAILED",
      details: { issues: [{ path: "body/version", message: "must be integer" }] },
    });
    expect((await json("POST", `${API}/models`, { name: 7 })).json().error.details.issues[0].path).toBe(
      "body/name",
    );
    expect((await json("PUT", `${API}/models/typed/aliases/champion`, { version: 3 })).statusCode).toBe(200);
    const page = await json("GET", `${API}/models/typed/versions?limit=2&order=desc`);
    expect(page.statusCode).toBe(200);
    expect(page.json().items.map((v: { version: number }) => v.version)).toEqual([3, 2]);
    expect((await json("GET", `${API}/datasets/none/versions/1`)).json().error.code).toBe(
      "DATASET_NOT_FOUND",
    );
  });

  it("registers thousands of versions in one bulk request", async () => {
    const versions = Array.from({ length: 2_000 }, (_, i) => ({
      model: `bulk-http-${i % 500}`,
      runtime: "skala.forecast",
      artifact: { json: forecastArtifact(i) },
      metrics: { mase: (i % 100) / 100 },
    }));
    const res = await json("POST", `${API}/bulk/versions`, { versions });
    expect(res.statusCode).toBe(201);
    expect(res.json().count).toBe(2_000);
    const model = (await json("GET", `${API}/models/bulk-http-7`)).json();
    expect(model.latestVersion).toBe(4);
  });
});

describe("fleet endpoints over HTTP", () => {
  let app: SkalaApp;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ app, close } = await testApp());
  });
  afterAll(() => close());

  const SPEC = `name: pumps
dataset: { path: pumps.csv }
frequency: monthly
horizon: 6
candidates: [ses, theta]
validation: { scheme: holdout, size: 6 }
`;

  it("validates the spec with every problem and its line", async () => {
    const res = await app.inject({
      method: "POST",
      url: `${API}/fleets`,
      payload: {
        spec: "name: pumps\nfrequency: hourly\nhorizon: -1\ncandidates: [ets2]\n",
        datasetDigest: `sha256:${"0".repeat(64)}`,
      },
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error.code).toBe("VALIDATION_FAILED");
    expect(body.error.details.issues.length).toBeGreaterThanOrEqual(3);
  });

  it("rejects a dataset that was never uploaded, and a malformed one with file, line and column", async () => {
    const missing = await app.inject({
      method: "POST",
      url: `${API}/fleets`,
      payload: { spec: SPEC, datasetDigest: `sha256:${"1".repeat(64)}` },
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe("ARTIFACT_NOT_FOUND");
    const bad = Buffer.from("series_id,period_index,value\nA,1,3\nA,2,lots\n");
    const { digest } = (
      await app.inject({
        method: "POST",
        url: "/api/v1/artifacts",
        payload: bad,
        headers: { "content-type": "text/csv" },
      })
    ).json();
    const res = await app.inject({
      method: "POST",
      url: `${API}/fleets`,
      payload: { spec: SPEC, datasetDigest: digest },
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe("DATASET_INVALID");
    expect(JSON.stringify(res.json().error.details)).toMatch(/"line":3,"column":3/);
  });

  it("quotes nothing of a file that is no spec or no dataset, in any answer (issue 17, defect 9)", async () => {
    const SECRET = "root:x:0:0:secret";
    const passwd = `${SECRET}\ndaemon:x:1:1:daemon:/usr/sbin:/bin/sh\n`;
    const upload = async (bytes: string) =>
      (
        await app.inject({
          method: "POST",
          url: "/api/v1/artifacts",
          payload: Buffer.from(bytes),
          headers: { "content-type": "text/csv" },
        })
      ).json().digest as string;
    const answers = [];
    // As the spec, in either format.
    for (const format of ["yaml", "json"]) {
      answers.push(
        await app.inject({
          method: "POST",
          url: `${API}/fleets`,
          payload: { spec: passwd, format, datasetDigest: `sha256:${"0".repeat(64)}` },
        }),
      );
    }
    // As the dataset of a fleet, and registered as a dataset (with bad quoting, and a duplicate column).
    answers.push(
      await app.inject({
        method: "POST",
        url: `${API}/fleets`,
        payload: { spec: SPEC, datasetDigest: await upload(passwd) },
      }),
    );
    for (const csv of [`${SECRET}"x\n1\n`, `${SECRET},${SECRET}\n1,2\n`, passwd.replace("\n", ",x\n")]) {
      answers.push(
        await app.inject({
          method: "POST",
          url: `${API}/datasets/etc-passwd/versions`,
          payload: { digest: await upload(csv) },
        }),
      );
    }
    expect(answers.map((a) => [a.statusCode, a.json().error?.code])).toEqual([
      [400, "VALIDATION_FAILED"],
      [400, "VALIDATION_FAILED"],
      [422, "DATASET_INVALID"],
      [422, "DATASET_INVALID"],
      [422, "DATASET_INVALID"],
      [422, "DATASET_INVALID"],
    ]);
    for (const answer of answers) expect(answer.body).not.toContain("secret");
  });

  it("accepts a fleet, answers its progress, report and events, and cancels it", async () => {
    const rows = ["series_id,period_index,value"];
    for (const id of ["a", "b"]) for (let t = 1; t <= 30; t++) rows.push(`${id},${t},${(t * 3) % 7}`);
    const { digest } = (
      await app.inject({
        method: "POST",
        url: "/api/v1/artifacts",
        payload: `${rows.join("\n")}\n`,
        headers: { "content-type": "text/csv" },
      })
    ).json();
    const submitted = await app.inject({
      method: "POST",
      url: `${API}/fleets`,
      payload: { spec: SPEC, datasetDigest: digest },
    });
    expect(submitted.statusCode).toBe(202);
    const runId = submitted.json().run.id;
    const again = await app.inject({
      method: "POST",
      url: `${API}/fleets`,
      payload: { spec: SPEC, datasetDigest: digest },
    });
    expect(again.statusCode).toBe(200);
    expect(again.json().run.id).toBe(runId);
    const progress = (await app.inject({ method: "GET", url: `${API}/fleets/pumps` })).json();
    expect(progress).toMatchObject({ done: 0, run: { id: runId, status: "queued", total: 2 } });
    expect((await app.inject({ method: "GET", url: `${API}/fleets` })).json().items[0].name).toBe("pumps");
    const cancelled = await app.inject({ method: "POST", url: `${API}/fleets/pumps/cancel` });
    expect(cancelled.json().status).toBe("cancelled");
    const events = await app.inject({ method: "GET", url: `${API}/fleets/pumps/events` });
    expect(events.headers["content-type"]).toContain("text/event-stream");
    expect(events.body).toMatch(/^event: end\ndata: \{.*"status":"cancelled"/m);
    // A stored run's spec, plan and bookkeeping are the server's: no endpoint shows them.
    expect(events.body).not.toMatch(/"(spec|plan|idempotencyKey|fleetId)"/);
    expect(JSON.stringify((await app.inject({ method: "GET", url: `${API}/fleets` })).json())).not.toMatch(
      /"(spec|plan|idempotencyKey|fleetId)"/,
    );
    const report = await app.inject({ method: "GET", url: `${API}/fleets/pumps/report` });
    expect(report.headers["content-type"]).toContain("application/json");
    expect(report.json()).toMatchObject({ fleet: "pumps", run: { id: runId }, segments: { total: 2 } });
    expect(Object.keys(report.json().run)).not.toContain("spec");
    const text = await app.inject({ method: "GET", url: `${API}/fleets/pumps/report?format=text` });
    expect(text.body).toContain("Fleet pumps");
    expect((await app.inject({ method: "GET", url: `${API}/fleets/nope` })).json().error.code).toBe(
      "FLEET_NOT_FOUND",
    );
  });
});
