import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../http/test-support/test-app.js";

const URL = "/api/v1/projects/default/fleets";
const MINIMAL = {
  name: "pumps",
  dataset: { path: "pumps.csv" },
  frequency: "monthly",
  horizon: 6,
  candidates: ["ses", "theta"],
};

describe("POST …/fleets: the spec", () => {
  let app: Awaited<ReturnType<typeof testApp>>["app"];
  let close: () => Promise<void>;
  let digest: string;

  beforeAll(async () => {
    ({ app, close } = await testApp());
    const rows = ["series_id,period_index,value"];
    for (const id of ["a", "b"]) for (let t = 1; t <= 30; t++) rows.push(`${id},${t},${(t * 3) % 7}`);
    const uploaded = await app.inject({
      method: "POST",
      url: "/api/v1/artifacts",
      payload: `${rows.join("\n")}\n`,
      headers: { "content-type": "text/csv" },
    });
    digest = uploaded.json().digest;
  });
  afterAll(() => close());

  const submit = (payload: object) => app.inject({ method: "POST", url: URL, payload });

  it("takes a spec object, checked by the same schema as text, without coercing types", async () => {
    const accepted = await submit({ spec: MINIMAL, datasetDigest: digest });
    expect(accepted.statusCode).toBe(202);
    const asText = await submit({ spec: JSON.stringify(MINIMAL), datasetDigest: digest });
    expect(asText.statusCode).toBe(200);
    expect(asText.json().run.id).toBe(accepted.json().run.id);

    const wrong = await submit({
      spec: { ...MINIMAL, horizon: "12", candidates: "ses", horizion: 1, gate: { baseline: "snaiv" } },
      datasetDigest: digest,
    });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error.details.issues).toEqual([
      { path: "/horizion", message: 'unknown field; did you mean "horizon"?' },
      { path: "/horizon", message: 'must be an integer from 1 to 1000, got "12"' },
      { path: "/candidates", message: 'must be a list of 1 to 50 candidates, got "ses"' },
      {
        path: "/gate/baseline",
        message: expect.stringMatching(
          /^"snaiv" is neither a candidate name nor a method; .*did you mean "snaive"/,
        ),
      },
    ]);
  });

  it("refuses a spec object past the limits, with the path", async () => {
    const res = await submit({
      spec: { ...MINIMAL, gate: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, i])) },
      datasetDigest: digest,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details.issues).toEqual([
      { path: "/gate", message: "has 200 keys; at most 100 in one mapping" },
    ]);
  });

  it("reports duplicate keys of a spec text with both places", async () => {
    const res = await submit({ spec: "name: a\nhorizon: 6\nname: b\n", datasetDigest: digest });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details.issues).toEqual([
      { path: "/name", message: 'duplicate key "name"; first at line 1, column 1', line: 3, column: 1 },
    ]);
  });

  it("words problems of the body around the spec the same way", async () => {
    const res = await submit({ spec: 5, datasetDigest: "sha256:abc", chunkSize: 0, extra: true });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details.issues).toEqual([
      { path: "body/extra", message: "unknown field; expected spec, format, datasetDigest, chunkSize" },
      {
        path: "body/spec",
        message: "must be the fleet spec, as text or as an object (docs/reference/fleet-spec.md), got 5",
      },
      {
        path: "body/datasetDigest",
        message:
          '"sha256:abc" is not a valid dataset digest (sha256: and 64 hex digits, of the dataset file uploaded to /api/v1/artifacts)',
      },
      { path: "body/chunkSize", message: "must be an integer from 1 to 10000, got 0" },
    ]);
  });

  it("shows the spec's fields in the OpenAPI document", async () => {
    const doc = (await app.inject({ method: "GET", url: "/api/openapi.json" })).json();
    const body =
      doc.paths["/api/v1/projects/{project}/fleets"].post.requestBody.content["application/json"].schema;
    const object = body.properties.spec.anyOf.find((s: { type?: string }) => s.type === "object");
    expect(Object.keys(object.properties)).toEqual([
      "name",
      "project",
      "description",
      "dataset",
      "frequency",
      "period",
      "horizon",
      "candidates",
      "validation",
      "selection",
      "gate",
      "quantiles",
      "holdout",
      "output",
    ]);
    expect(object.required).toEqual(["name", "dataset", "frequency", "horizon", "candidates"]);
  });
});
