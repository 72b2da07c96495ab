import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ERROR_CODES, SkalaError } from "../core/index.js";
import { HTTP_STATUS } from "./error-handler.js";
import { testApp } from "./test-support/test-app.js";

const doc = readFileSync(new URL("../../docs/reference/errors.md", import.meta.url), "utf8");

describe("error catalogue", () => {
  it.each(ERROR_CODES)("documents %s with its HTTP status", (code) => {
    expect(doc).toMatch(new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${HTTP_STATUS[code]}\\s*\\|`));
  });

  it("documents no code that does not exist", () => {
    const documented = [...doc.matchAll(/^\|\s*`([A-Z_]+)`\s*\|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...ERROR_CODES].sort());
  });

  it("gives every code an HTTP error status", () => {
    const statuses = Object.entries(HTTP_STATUS);
    expect(statuses.map(([code]) => code).sort()).toEqual([...ERROR_CODES].sort());
    for (const [code, status] of statuses) {
      expect(Number.isInteger(status) && status >= 400 && status <= 599, `${code} → ${status}`).toBe(true);
    }
  });

  it("maps only server faults to 5xx", () => {
    const serverSide = ERROR_CODES.filter((code) => HTTP_STATUS[code] >= 500).sort();
    // SERVER_UNREACHABLE is the CLI's own: the server it wanted is down, which a server would answer with 503.
    expect(serverSide).toEqual([
      "ADDRESS_IN_USE",
      "ARTIFACT_CORRUPT",
      "CONFIG_INVALID",
      "DATABASE_BUSY",
      "DATABASE_IN_USE",
      "INTERNAL",
      "MODEL_FAILED",
      "MODEL_LOAD_FAILED",
      "MODEL_NOT_READY",
      "OVERLOADED",
      "SERVER_UNREACHABLE",
      "SERVICE_UNAVAILABLE",
      "STORAGE_FULL",
    ]);
  });
});

/**
 * Every code, thrown where a request really fails (the registry lookup behind a route), answers the table's
 * status on `/api` and on `/v2` alike: /v2 renders its own body but no longer keeps a second, partial mapping.
 */
describe("one mapping to HTTP for /api and /v2", () => {
  let harness: Awaited<ReturnType<typeof testApp>>;
  beforeAll(async () => {
    harness = await testApp({ inference: true });
  });
  afterAll(() => harness.close());
  afterEach(() => vi.restoreAllMocks());

  it.each(ERROR_CODES)("answers %s with its status on both", async (code) => {
    const failure = new SkalaError(code, `injected ${code}`, undefined, { retryAfterMs: 2_500 });
    vi.spyOn(harness.registry.versions, "locate").mockRejectedValue(failure);
    vi.spyOn(harness.registry.models, "get").mockRejectedValue(failure);
    const v2 = await harness.app.inject({ method: "GET", url: "/v2/models/m1" });
    expect(v2.statusCode).toBe(HTTP_STATUS[code]);
    expect(v2.json()).toEqual({ error: `injected ${code}` });
    const api = await harness.app.inject({ method: "GET", url: "/api/v1/projects/default/models/m1" });
    expect(api.statusCode).toBe(HTTP_STATUS[code]);
    expect(api.json()).toEqual({ error: { code, message: `injected ${code}` } });
    for (const res of [v2, api]) {
      expect(res.headers["retry-after"]).toBe(HTTP_STATUS[code] === 503 ? "3" : undefined);
    }
  });
});
