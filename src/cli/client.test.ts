import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { Static } from "@sinclair/typebox";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import type { FleetProgress } from "../fleets/index.js";
import { testApp } from "../http/test-support/test-app.js";
import type { ModelVersion, Page, RegisteredModel, Run, schemas } from "../registry/index.js";
import type { ScoringJob } from "../scoring/index.js";
import { API, type OperationRequest, type OperationResult } from "./api.js";
import { ClientError, operationPath, SkalaClient } from "./client.js";
import { ResponseCheck } from "./response-check.js";

const QUICKSTART = fileURLToPath(new URL("../../examples/quickstart/", import.meta.url));

describe("the typed client", () => {
  it("takes and returns the types of the operation's schemas, not a type the caller picks", () => {
    expectTypeOf<OperationRequest<"getModel">>().toEqualTypeOf<{
      params: { project: string; model: string };
    }>();
    expectTypeOf<OperationResult<"getModel">>().toEqualTypeOf<Static<typeof schemas.RegisteredModel>>();
    expectTypeOf<OperationResult<"getModel">>().toEqualTypeOf<RegisteredModel>();
    expectTypeOf<OperationResult<"listVersions">>().toEqualTypeOf<Page<ModelVersion>>();
    expectTypeOf<OperationRequest<"listModels">["query"]>().toEqualTypeOf<
      Static<typeof API.listModels.querystring> | undefined
    >();
    expectTypeOf<OperationRequest<"setAlias">["body"]>().toEqualTypeOf<schemas.SetAliasInput>();
    // A 204 answers nothing; 200 and 202 with the same schema answer one type.
    expectTypeOf<OperationResult<"deleteAlias">>().toEqualTypeOf<null>();
    expectTypeOf<OperationResult<"submitScoringJob">>().toEqualTypeOf<ScoringJob>();
    expectTypeOf<OperationResult<"getFleetProgress">>().toEqualTypeOf<FleetProgress>();

    const client = new SkalaClient({ url: "http://127.0.0.1:1", from: "default" });
    // Never run: the calls are here for their types.
    const typed = () => {
      expectTypeOf(
        client.call("getRun", { params: { project: "p", run: "r" } }),
      ).resolves.toEqualTypeOf<Run>();
      expectTypeOf(client.call("listProjects")).resolves.toEqualTypeOf<{
        items: Array<Static<typeof schemas.Project>>;
      }>();
      // @ts-expect-error the model is missing
      client.call("getModel", { params: { project: "p" } });
      // @ts-expect-error a path parameter is a string
      client.call("getModel", { params: { project: "p", model: 7 } });
      // @ts-expect-error the body is required
      client.call("createModel", { params: { project: "p" } });
      // @ts-expect-error not a field of the body
      client.call("createModel", { params: { project: "p" }, body: { name: "m", owner: "x" } });
      // @ts-expect-error not a value the querystring takes
      client.call("listModels", { params: { project: "p" }, query: { archived: "all" } });
      // @ts-expect-error a stream is not a JSON call
      client.call("downloadScoringOutput", { params: { project: "p", id: "j" } });
      // @ts-expect-error the raw upload is `upload`
      client.call("uploadArtifact");
      // @ts-expect-error a JSON answer is not a stream
      client.stream("getModel", { params: { project: "p", model: "m" } });
    };
    expect(typed).toBeTypeOf("function");
  });

  it("encodes path parameters and builds the querystring from a typed object", () => {
    expect(operationPath(API.getRun, { params: { project: "default", run: "a/b?c#d%20e f&g=h+é" } })).toBe(
      "/api/v1/projects/default/runs/a%2Fb%3Fc%23d%2520e%20f%26g%3Dh%2B%C3%A9",
    );
    expect(
      operationPath(API.resolveReference, { params: { project: "p", reference: "part-A12@champion" } }),
    ).toBe("/api/v1/projects/p/resolve/part-A12%40champion");
    expect(
      operationPath(API.listModels, {
        params: { project: "p" },
        query: { tag: ["family=brakes", "a&b=c d"], limit: 5, cursor: undefined },
      }),
    ).toBe("/api/v1/projects/p/models?tag=family%3Dbrakes&tag=a%26b%3Dc+d&limit=5");
    expect(operationPath(API.getDatasetVersion, { params: { project: "p", dataset: "d", version: 3 } })).toBe(
      "/api/v1/projects/p/datasets/d/versions/3",
    );
    expect(operationPath(API.listProjects)).toBe("/api/v1/projects");
  });

  it("refuses . and .. as path parameters before sending anything", async () => {
    // Nothing listens there: a request would fail SERVER_UNREACHABLE instead.
    const client = new SkalaClient({ url: "http://127.0.0.1:9", from: "--server" });
    for (const model of [".", ".."]) {
      const refused = await client
        .call("listVersions", { params: { project: "default", model } })
        .catch((error: unknown) => error);
      expect(refused).toMatchObject({
        code: "VALIDATION_FAILED",
        message: `params/model: must not be "${model}", which a URL cannot carry as a path segment`,
        details: { issues: [{ path: "params/model" }] },
      });
    }
  });

  describe("against a server", () => {
    let close: () => Promise<void>;
    let client: SkalaClient;
    beforeAll(async () => {
      const harness = await testApp();
      close = harness.close;
      const url = await harness.app.listen({ host: "127.0.0.1", port: 0 });
      client = new SkalaClient({ url, from: "--server" }, { checkResponses: true });
    });
    afterAll(() => close());

    it("sends reserved characters in path parameters as they are", async () => {
      const run = await client.call("createRun", { params: { project: "default" }, body: { name: "r" } });
      const key = "val/loss:1";
      await client.call("logRunMetrics", {
        params: { project: "default", run: run.id },
        body: { metrics: [{ key, value: 0.5, step: 1 }] },
      });
      const history = await client.call("getRunMetricHistory", {
        params: { project: "default", run: run.id, key },
      });
      expect(history.items.map((point) => [point.key, point.value])).toEqual([[key, 0.5]]);

      const id = "a/b?c#d%20e f&é";
      const missing = await client
        .call("getRun", { params: { project: "default", run: id } })
        .catch((error: unknown) => error);
      expect(missing).toBeInstanceOf(ClientError);
      expect(missing).toMatchObject({ code: "RUN_NOT_FOUND", status: 404, details: { run: id } });
    });

    it("reads JSON with call and any other answer with stream", async () => {
      const { digest } = await client.upload(join(QUICKSTART, "demand.csv"));
      const spec = [
        "name: typed",
        "dataset: { path: demand.csv, columns: { series: part, timestamp: month, value: demand } }",
        "frequency: monthly",
        "horizon: 6",
        "candidates: [ses]",
      ].join("\n");
      const { run } = await client.call("submitFleet", {
        params: { project: "default" },
        body: { spec, format: "yaml", datasetDigest: digest },
      });
      const request = { params: { project: "default", fleet: "typed" }, query: { run: run.id } };
      const report = await client.call("getFleetReport", request);
      expect(report.run.id).toBe(run.id);
      const asText = { ...request, query: { ...request.query, format: "text" as const } };
      await expect(client.call("getFleetReport", asText)).rejects.toThrow(
        "getFleetReport answered text/plain; charset=utf-8, not JSON: use stream()",
      );
      const text = await new Response(
        Readable.toWeb(await client.stream("getFleetReport", asText)) as ReadableStream,
      ).text();
      expect(text).toContain("typed");
    });

    it("answers an empty 204 as null and keeps the envelope's code, message and status", async () => {
      await client.call("createModel", { params: { project: "default" }, body: { name: "m" } });
      const missing = await client
        .call("deleteAlias", { params: { project: "default", model: "m", alias: "champion" } })
        .catch((error: unknown) => error);
      expect(missing).toMatchObject({ code: "ALIAS_NOT_FOUND", status: 404 });
      expect((missing as ClientError).message).toMatch(/champion/);
      const created = await client.call("createModel", {
        params: { project: "default" },
        body: { name: "n", tags: { family: "brakes" } },
      });
      expect(created).toMatchObject({ name: "n", tags: { family: "brakes" } });
      const page = await client.call("listModels", {
        params: { project: "default" },
        query: { tag: ["family=brakes"] },
      });
      expect(page.items.map((m) => m.name)).toEqual(["n"]);
    });
  });
});

describe("response checking", () => {
  const check = new ResponseCheck();
  const model: RegisteredModel = {
    id: "m1",
    project: "default",
    name: "part-A12",
    description: "",
    fleet: null,
    tags: {},
    latestVersion: 0,
    archived: false,
    archivedAt: null,
    createdAt: "2026-01-02T03:04:05.678Z",
    updatedAt: "2026-01-02T03:04:05.678Z",
  };

  it("passes an answer that matches its schema", () => {
    expect(() => check.check(API.getModel, 200, model)).not.toThrow();
    expect(() => check.check(API.deleteAlias, 204, null)).not.toThrow();
  });

  it("names the operation and every field that drifted", () => {
    expect(() =>
      check.check(API.getModel, 200, { ...model, latestVersion: "1", archivedAt: "yesterday" }),
    ).toThrow(
      /^getModel answered 200 with a body its response schema refuses: \/latestVersion: .*\/archivedAt: /,
    );
    expect(() => check.check(API.createModel, 200, model)).toThrow(
      "createModel answered 200, which its table entry does not declare (201)",
    );
  });
});
