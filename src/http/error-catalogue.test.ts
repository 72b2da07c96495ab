import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../core/index.js";
import { HTTP_STATUS } from "./error-handler.js";

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
    expect(serverSide).toEqual([
      "ARTIFACT_CORRUPT",
      "CONFIG_INVALID",
      "INTERNAL",
      "MODEL_FAILED",
      "MODEL_NOT_READY",
      "OVERLOADED",
      "SERVICE_UNAVAILABLE",
    ]);
  });
});
