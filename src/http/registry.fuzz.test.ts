import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDialects } from "../store/test-support/dialects.js";
import type { SkalaApp } from "./app.js";
import { testApp } from "./test-support/test-app.js";

/**
 * Property: whatever a client sends to any registry endpoint, the answer is never a 5xx, always carries the
 * error envelope when it is an error, and the server keeps answering. Endpoints come from the OpenAPI
 * document, so a new route is fuzzed without touching this file.
 */

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

const segment = fc.oneof(
  fc.constantFrom(
    "default",
    "m1",
    "champion",
    "1",
    "0",
    "-1",
    "99999999999",
    "%00",
    "..",
    "%2F",
    "a b",
    "ünïcödé",
    "x".repeat(300),
  ),
  fc.string({ maxLength: 30 }).map((s) => encodeURIComponent(s) || "_"),
);

const scalar = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);
/** Bodies shaped like the real ones (right keys, wrong values) reach deeper than pure noise. */
const plausibleBody = fc.record(
  {
    name: scalar,
    model: scalar,
    runtime: fc.oneof(scalar, fc.constant("onnx")),
    artifact: fc.oneof(
      scalar,
      fc.record({ json: fc.jsonValue() }),
      fc.record({ base64: fc.string() }),
      fc.record({ digest: fc.string() }),
    ),
    versions: fc.oneof(
      scalar,
      fc.array(
        fc.dictionary(
          fc.constantFrom("model", "runtime", "artifact", "tags", "metrics", "aliases", "lineage"),
          fc.jsonValue(),
        ),
        { maxLength: 4 },
      ),
    ),
    metrics: fc.oneof(
      scalar,
      fc.array(fc.record({ key: scalar, value: scalar, step: scalar }), { maxLength: 3 }),
      fc.dictionary(fc.string(), scalar),
    ),
    params: fc.oneof(scalar, fc.dictionary(fc.string(), scalar)),
    tags: fc.oneof(scalar, fc.dictionary(fc.string(), scalar)),
    version: scalar,
    status: scalar,
    digest: scalar,
    filter: scalar,
    limit: scalar,
    cursor: scalar,
    lineage: fc.oneof(
      scalar,
      fc.dictionary(fc.constantFrom("runId", "datasetVersionId", "parentVersionId", "sourceRef"), scalar),
    ),
    signature: fc.oneof(scalar, fc.record({ inputs: fc.jsonValue(), outputs: fc.jsonValue() })),
  },
  { requiredKeys: [] },
);
const rawBody = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  plausibleBody.map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom(
    "{",
    "[",
    '{"name":',
    "null",
    "\u0000",
    '{"__proto__":{"x":1}}',
    '{"constructor":{"prototype":{}}}',
  ),
);
const query = fc.dictionary(
  fc.constantFrom(
    "limit",
    "cursor",
    "prefix",
    "tag",
    "sort",
    "order",
    "archived",
    "filter",
    "fleet",
    "alias",
    "x",
  ),
  fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.integer().map(String),
    fc.constantFrom("-1", "0", "1e9", "asc", "name"),
  ),
);

describe.each(testDialects())("registry endpoints under random input on %s", (dialect) => {
  let app: SkalaApp;
  let close: () => Promise<void>;
  let routes: Array<{ method: Method; path: string; statuses: string[] }>;

  beforeAll(async () => {
    ({ app, close } = await testApp({ dialect }));
    // Some state, so random requests can hit existing models, versions and aliases.
    await app.inject({
      method: "POST",
      url: "/api/v1/projects/default/bulk/versions",
      payload: { versions: [{ model: "m1", runtime: "onnx", artifact: { json: 1 }, aliases: ["champion"] }] },
    });
    const doc = app.swagger() as unknown as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        method: method.toUpperCase() as Method,
        path,
        statuses: Object.keys(operation.responses),
      })),
    );
  });
  afterAll(() => close());

  it("covers every registry endpoint", () => {
    expect(routes.length).toBeGreaterThanOrEqual(30);
  });

  it("never answers a client's random request with a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.array(segment, { minLength: 6, maxLength: 6 }),
        query,
        rawBody,
        fc.constantFrom(
          "application/json",
          "application/json; charset=utf-8",
          "text/plain",
          "application/octet-stream",
        ),
        async (routeIndex, segments, params, body, contentType) => {
          const route = routes[routeIndex % routes.length] as (typeof routes)[number];
          let i = 0;
          const url = route.path.replace(/\{[^}]+\}/g, () => segments[i++ % segments.length] as string);
          const search = new URLSearchParams(params).toString();
          const res = await app.inject({
            method: route.method,
            url: search ? `${url}?${search}` : url,
            ...(route.method !== "GET" &&
              route.method !== "DELETE" && { payload: body, headers: { "content-type": contentType } }),
          });
          expect(res.statusCode, `${route.method} ${url} → ${res.body.slice(0, 300)}`).toBeLessThan(500);
          // Every answer is one the OpenAPI document declares for the route (exactly, or as 4XX).
          const status = String(res.statusCode);
          expect(route.statuses, `${route.method} ${route.path} answered ${status}`).toContain(
            route.statuses.includes(status) ? status : `${status[0]}XX`,
          );
          if (res.statusCode >= 400) {
            const parsed = res.json();
            expect(typeof parsed.error.code).toBe("string");
            expect(typeof parsed.error.message).toBe("string");
          }
        },
      ),
      { numRuns: 1_500 },
    );
    expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
  });

  it("never fails with a 5xx on random bulk items, and stores nothing from a rejected batch", async () => {
    const before = (
      await app.inject({ method: "GET", url: "/api/v1/projects/default/models?limit=1000" })
    ).json().items.length;
    await fc.assert(
      fc.asyncProperty(fc.array(plausibleBody, { minLength: 1, maxLength: 5 }), async (items) => {
        const res = await app.inject({
          method: "POST",
          url: "/api/v1/projects/default/bulk/versions",
          payload: { versions: items },
        });
        expect(res.statusCode).toBeLessThan(500);
        expect(res.statusCode).not.toBe(201);
      }),
      { numRuns: 300 },
    );
    const after = (
      await app.inject({ method: "GET", url: "/api/v1/projects/default/models?limit=1000" })
    ).json().items.length;
    expect(after).toBe(before);
  });
});

/**
 * Property: a body nested deeper than the parser allows, anywhere inside a body shaped like a real one, is a
 * coded 4xx on every mutating route (`/v2` included), never a 5xx: no recursive consumer (JSON.stringify when
 * stored, validation, serialization) ever sees it.
 */
describe("deeply nested bodies on every mutating route", () => {
  let app: SkalaApp;
  let close: () => Promise<void>;
  let routes: Array<{ method: Method; path: string }>;

  beforeAll(async () => {
    ({ app, close } = await testApp({ inference: true }));
    await app.ready();
    const doc = app.swagger() as { paths: Record<string, Record<string, unknown>> };
    routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods)
        .map((method) => ({ method: method.toUpperCase() as Method, path }))
        .filter((route) => route.method !== "GET"),
    );
  });
  afterAll(() => close());

  it("covers the mutating routes of /api and /v2", () => {
    expect(routes.length).toBeGreaterThanOrEqual(25);
    expect(routes.some((r) => r.path.startsWith("/v2/"))).toBe(true);
  });

  /** `depth` levels of arrays or single-key objects, the innermost holding a number. */
  const nested = fc
    .record({
      depth: fc.oneof(fc.integer({ min: 65, max: 2_000 }), fc.constant(100_000)),
      objects: fc.boolean(),
    })
    .map(({ depth, objects }) =>
      objects ? `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}` : `${"[".repeat(depth)}1${"]".repeat(depth)}`,
    );
  const digest = `"sha256:${"0".repeat(64)}"`;
  const templates: Array<(deep: string) => string> = [
    (deep) => deep,
    (deep) => `{"runtime":"onnx","artifact":{"json":${deep}}}`,
    (deep) => `{"versions":[{"model":"m1","runtime":"onnx","artifact":{"json":${deep}}}]}`,
    (deep) => `{"spec":{"name":"f","candidates":${deep}},"datasetDigest":${digest}}`,
    (deep) => `{"name":"m2","tags":${deep}}`,
    (deep) => `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":${deep}}]}`,
    (deep) => `{"parameters":${deep}}`,
  ];

  it("answers every one with a coded 4xx in the route's error shape", async () => {
    // Every route gets every template on each run: deep nesting is rare input, so coverage is not left to luck.
    await fc.assert(
      fc.asyncProperty(nested, async (deep) => {
        for (const route of routes) {
          const url = route.path.replace(/\{[^}]+\}/g, (name) => (name === "{project}" ? "default" : "m1"));
          for (const template of templates) {
            const payload = template(deep);
            const res = await app.inject({
              method: route.method,
              url,
              payload,
              headers: { "content-type": "application/json" },
            });
            const where = `${route.method} ${url} (${payload.slice(0, 60)}…, ${payload.length} bytes) → ${res.body.slice(0, 200)}`;
            expect(res.statusCode, where).toBeLessThan(500);
            // Only the raw artifact upload stores any bytes it is given, nested or not.
            if (url === "/api/v1/artifacts") continue;
            expect(res.statusCode, where).toBeGreaterThanOrEqual(400);
            if (url.startsWith("/v2/")) expect(typeof res.json().error, where).toBe("string");
            else expect(typeof res.json().error.code, where).toBe("string");
          }
        }
      }),
      { numRuns: 6, examples: [[`${"[".repeat(100_000)}1${"]".repeat(100_000)}`]] },
    );
    expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
  });
});
