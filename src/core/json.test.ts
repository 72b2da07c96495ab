import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { exceedsJsonDepth, MAX_JSON_DEPTH } from "./json.js";

/** The nesting depth of a parsed value: what exceedsJsonDepth must judge from the text alone. */
function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (typeof value === "object" && value !== null)
    return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

describe("exceedsJsonDepth", () => {
  it("counts arrays and objects, not brackets inside strings or escaped quotes", () => {
    expect(exceedsJsonDepth("1", 0)).toBe(false);
    expect(exceedsJsonDepth("[]", 0)).toBe(true);
    expect(exceedsJsonDepth('{"a":[1]}', 2)).toBe(false);
    expect(exceedsJsonDepth('{"a":[[1]]}', 2)).toBe(true);
    expect(exceedsJsonDepth('["[[[[", "\\"[[[", "\\\\", [1]]', 2)).toBe(false);
    expect(exceedsJsonDepth('["\\\\"', 0)).toBe(true);
    expect(exceedsJsonDepth('"unterminated [[[[', 1)).toBe(false);
    expect(
      exceedsJsonDepth(`${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}`, MAX_JSON_DEPTH),
    ).toBe(false);
    expect(exceedsJsonDepth(`${"[".repeat(MAX_JSON_DEPTH + 1)}`, MAX_JSON_DEPTH)).toBe(true);
  });

  it("agrees with the depth of the parsed value for any JSON", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 8 }), (value, limit) => {
        const text = JSON.stringify(value);
        expect(exceedsJsonDepth(text, limit)).toBe(depthOf(value) > limit);
      }),
      { numRuns: 2_000 },
    );
  });

  it("scans megabytes quickly, skipping strings", () => {
    const text = JSON.stringify({
      artifact: { base64: "QUJD".repeat(4 << 20) },
      data: Array(1 << 20).fill(0.25),
    });
    const started = performance.now();
    expect(exceedsJsonDepth(text, MAX_JSON_DEPTH)).toBe(false);
    expect(performance.now() - started).toBeLessThan(200);
  });
});
