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
      "MODEL_LOAD_FAILED",
      "SERVER_UNREACHABLE",
      "SERVICE_UNAVAILABLE",
      "STORAGE_FULL",
    ]);
  });
});
