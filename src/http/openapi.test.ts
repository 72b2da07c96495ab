import { createConfig, lintFromString } from "@redocly/openapi-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SkalaApp } from "./app.js";
import { testApp } from "./test-support/test-app.js";

/**
 * The OpenAPI document is the API's contract: it covers every route the server answers (`/api`, `/v2`,
 * health, readiness, metrics), declares each success status and the error shape, and passes Redocly's
 * `recommended` rules, whose `struct` rule checks the document against the OpenAPI 3.1 structure.
 */

/** Fastify's route table, from the tree `printRoutes` draws: one entry per method and full URL. */
function routeTable(printed: string): Array<{ method: string; url: string }> {
  const routes: Array<{ method: string; url: string }> = [];
  const parents: string[] = [];
  for (const line of printed.split("\n")) {
    const match = /^((?:[│ ] {3})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (match === null) continue;
    parents.length = (match[1] ?? "").length / 4;
    parents.push(match[2] ?? "");
    const url = parents.join("");
    for (const method of match[3]?.split(", ") ?? []) routes.push({ method: method.toLowerCase(), url });
  }
  return routes;
}

type Operation = { operationId?: string; responses: Record<string, { content?: Record<string, unknown> }> };
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

describe("the OpenAPI document", () => {
  let app: SkalaApp;
  let close: () => Promise<void>;
  let doc: Document;

  beforeAll(async () => {
    ({ app, close } = await testApp({ inference: true }));
    await app.ready();
    doc = app.swagger() as unknown as Document;
  });
  afterAll(() => close());

  const operation = (method: string, path: string): Operation => {
    const found = doc.paths[path]?.[method];
    if (found === undefined) throw new Error(`${method.toUpperCase()} ${path} is not documented`);
    return found;
  };

  it("passes the recommended rules of a maintained linter, warnings included", async () => {
    const problems = await lintFromString({
      source: JSON.stringify(doc),
      absoluteRef: "openapi.json",
      config: await createConfig({ extends: ["recommended"] }),
    });
    expect(
      problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} (${p.location[0]?.pointer ?? ""})`),
    ).toEqual([]);
  });

  it("documents every route the server answers, /v2 and operations included", () => {
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, methods]) =>
        Object.keys(methods).map((method) => `${method} ${path}`),
      ),
    );
    const served = routeTable(app.printRoutes({ commonPrefix: false })).filter(
      // The documentation's own pages, and /v2/ (the same route as /v2, answered for clients that add a slash).
      (route) =>
        route.method !== "head" &&
        !route.url.startsWith("/api/docs") &&
        route.url !== "/api/openapi.json" &&
        route.url !== "/v2/",
    );
    expect(served.length).toBeGreaterThanOrEqual(60);
    for (const route of served) {
      expect(documented).toContain(`${route.method} ${route.url.replace(/:([A-Za-z]+)/g, "{$1}")}`);
    }
    for (const path of ["/healthz", "/readyz", "/metrics", "/v2", "/v2/models/{name}/infer"]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(documented.size).toBeGreaterThanOrEqual(60);
  });

  it("gives every operation an id, a success status and the error shape", () => {
    const ids = new Set<string>();
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(op.operationId, where).toBeDefined();
        expect(ids.has(op.operationId as string), `${where}: duplicate ${op.operationId}`).toBe(false);
        ids.add(op.operationId as string);
        expect(
          Object.keys(op.responses).some((status) => /^2\d\d$/.test(status)),
          where,
        ).toBe(true);
        const errorSchema = path.startsWith("/v2") ? "ProtocolError" : "ErrorEnvelope";
        for (const range of ["4XX", "5XX"]) {
          const schema = op.responses[range]?.content?.["application/json"] as {
            schema?: { title?: string };
          };
          expect(schema?.schema?.title, `${where} ${range}`).toBe(errorSchema);
        }
      }
    }
  });

  it("declares the real success statuses: 201 for creates, 202 for accepted jobs, 204 for deletes", () => {
    const statuses = (method: string, path: string) => Object.keys(operation(method, path).responses);
    const api = "/api/v1/projects/{project}";
    for (const path of [
      "/api/v1/projects",
      `${api}/models`,
      `${api}/models/{model}/versions`,
      `${api}/bulk/versions`,
      `${api}/runs`,
      `${api}/datasets/{dataset}/versions`,
    ]) {
      expect(statuses("post", path), path).toContain("201");
    }
    expect(statuses("post", "/api/v1/artifacts")).toEqual(expect.arrayContaining(["200", "201"]));
    expect(statuses("post", `${api}/fleets`)).toEqual(expect.arrayContaining(["200", "202"]));
    expect(statuses("post", `${api}/scoring-jobs`)).toEqual(expect.arrayContaining(["200", "202"]));
    expect(statuses("delete", `${api}/models/{model}/aliases/{alias}`)).toContain("204");
    expect(statuses("get", "/readyz")).toEqual(expect.arrayContaining(["200", "503"]));
    expect(Object.keys(operation("get", "/metrics").responses["200"]?.content ?? {})).toEqual(["text/plain"]);
  });
});
