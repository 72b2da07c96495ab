import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  readSpecText,
  SPEC_LIMITS,
  type SpecFormat,
  type SpecIssue,
  specValueLimitIssue,
} from "./spec-reader.js";
import { HOSTILE_SPEC_KINDS, hostileSpecs } from "./test-support/hostile-spec.js";

function read(text: string, format: SpecFormat = "yaml") {
  const result = readSpecText(text, format);
  if (!result.ok)
    throw new Error(`expected ${JSON.stringify(text.slice(0, 80))} to read: ${result.issues[0]?.message}`);
  return result.document;
}

function refused(text: string, format: SpecFormat = "yaml"): SpecIssue[] {
  const result = readSpecText(text, format);
  if (result.ok) throw new Error(`expected ${JSON.stringify(text.slice(0, 80))} to be refused`);
  return result.issues;
}

describe("readSpecText", () => {
  it("reads YAML and JSON into the same value, and places each part of it", () => {
    const yaml = read("name: f\ncandidates:\n  - ses\n  - { method: ets, params: { model: ZZZ } }\n");
    const json = read(
      '{\n  "name": "f",\n  "candidates": ["ses", {"method": "ets", "params": {"model": "ZZZ"}}]\n}',
      "json",
    );
    expect(yaml.value).toEqual(json.value);
    expect(yaml.locate("/candidates/1/params/model")).toEqual({ line: 4, column: 37 });
    expect(json.locate("/candidates/1/params/model")).toEqual({ line: 3, column: 63 });
    // A missing part points at its closest written ancestor.
    expect(yaml.locate("/candidates/1/params/alpha")).toEqual({ line: 4, column: 28 });
    expect(json.locate("/horizon")).toEqual({ line: 1, column: 1 });
  });

  it("expands aliases, and refuses unknown and self-containing ones", () => {
    const doc = read(
      "p: &p { alpha: 0.5 }\nc: [{ method: ses, params: *p }, { method: croston, params: *p }]\n",
    );
    expect(doc.value).toEqual({
      p: { alpha: 0.5 },
      c: [
        { method: "ses", params: { alpha: 0.5 } },
        { method: "croston", params: { alpha: 0.5 } },
      ],
    });
    expect(refused("a: *nowhere\n")).toMatchObject([
      { path: "/a", message: "unknown alias *nowhere (its anchor must come first)", line: 1, column: 4 },
    ]);
    expect(refused("a: &a [1, *a]\n")).toMatchObject([
      { path: "/a/1", message: "alias *a is inside the node it refers to" },
    ]);
  });

  it("keeps a __proto__ key as data, to be reported as an unknown field", () => {
    const value = read("__proto__: { polluted: true }\n").value as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("refuses what a spec cannot hold: keys that are not plain, several documents, YAML 1.1 values", () => {
    expect(refused("? [a]\n: 1\n")[0]).toMatchObject({ message: /a key must be a plain string/, line: 1 });
    expect(refused("name: a\n---\nname: b\n")[0]).toMatchObject({ message: /one document/, line: 2 });
    expect(refused("%YAML 1.1\n---\nwhen: 2001-12-14\n")[0]).toMatchObject({ path: "/when", line: 3 });
  });
});

describe("readSpecText: duplicate keys", () => {
  it("reports every duplicate with both places, in YAML", () => {
    expect(refused("name: a\nhorizon: 6\ndataset:\n  path: x\n  path: y\nname: b\n")).toEqual([
      {
        path: "/dataset/path",
        message: 'duplicate key "path"; first at line 4, column 3',
        line: 5,
        column: 3,
      },
      { path: "/name", message: 'duplicate key "name"; first at line 1, column 1', line: 6, column: 1 },
    ]);
    expect(refused("{ a: 1, b: 2, a: 3 }\n")).toEqual([
      { path: "/a", message: 'duplicate key "a"; first at line 1, column 3', line: 1, column: 15 },
    ]);
  });

  it("reports every duplicate with both places, in JSON, which JSON.parse would silently collapse", () => {
    expect(
      refused('{"name": "a",\n "gate": {"metric": "wql", "metric": "mase"},\n "n\\u0061me": "b"}', "json"),
    ).toEqual([
      {
        path: "/gate/metric",
        message: 'duplicate key "metric"; first at line 2, column 11',
        line: 2,
        column: 28,
      },
      { path: "/name", message: 'duplicate key "name"; first at line 1, column 2', line: 3, column: 2 },
    ]);
  });

  it("stops looking after one more than SPEC_LIMITS.maxIssues, so that the error can say there are more", () => {
    expect(refused("a: 1\n".repeat(500))).toHaveLength(SPEC_LIMITS.maxIssues + 1);
    expect(refused(`{${'"a": 1, '.repeat(500)}"b": 2}`, "json")).toHaveLength(SPEC_LIMITS.maxIssues + 1);
  });
});

describe("readSpecText: limits", () => {
  const mapping = (keys: number, indent = "") =>
    Array.from({ length: keys }, (_, i) => `${indent}k${i}: ${i}\n`).join("");
  const flowNest = (levels: number) => `a: ${"[".repeat(levels)}${"]".repeat(levels)}\n`;
  const jsonNest = (levels: number) => `{"a": ${"[".repeat(levels)}${"]".repeat(levels)}}`;

  it("refuses text past SPEC_LIMITS.maxChars before reading it", () => {
    expect(refused(`name: f\n#${"x".repeat(SPEC_LIMITS.maxChars)}\n`)).toEqual([
      {
        path: "",
        message: `the spec must be text of at most ${SPEC_LIMITS.maxChars} characters, got ${SPEC_LIMITS.maxChars + 10}`,
      },
    ]);
  });

  it("stops at the first YAML token past SPEC_LIMITS.maxYamlTokens, before parsing", () => {
    const [issue] = refused(mapping(3_000));
    expect(issue).toMatchObject({ path: "", message: /^more than 10000 YAML tokens/ });
    expect(issue?.line).toBeGreaterThan(1_000);
  });

  it("refuses mappings of more than SPEC_LIMITS.maxKeys keys, with the mapping's path", () => {
    expect(read(mapping(SPEC_LIMITS.maxKeys)).value).toBeTypeOf("object");
    expect(refused(`gate:\n${mapping(SPEC_LIMITS.maxKeys + 1, "  ")}`)).toEqual([
      { path: "/gate", message: "has 101 keys; at most 100 in one mapping", line: 2, column: 3 },
    ]);
    const json = `{"gate": {${Array.from({ length: 101 }, (_, i) => `"k${i}": 1`).join(", ")}}}`;
    expect(refused(json, "json")).toEqual([
      { path: "/gate", message: "has 101 keys; at most 100 in one mapping", line: 1, column: 10 },
    ]);
  });

  it("refuses nesting deeper than SPEC_LIMITS.maxDepth, in flow and block YAML and in JSON", () => {
    expect(read(flowNest(SPEC_LIMITS.maxDepth - 1)).value).toBeTypeOf("object");
    expect(refused(flowNest(SPEC_LIMITS.maxDepth))).toMatchObject([
      { message: "nested more than 32 levels deep", line: 1 },
    ]);
    expect(refused(flowNest(4_000))).toMatchObject([
      { path: "", message: "nested more than 32 levels deep" },
    ]);
    expect(refused(`${"- ".repeat(4_000)}x\n`)).toMatchObject([
      { message: "nested more than 32 levels deep" },
    ]);
    expect(read(jsonNest(SPEC_LIMITS.maxDepth - 1), "json").value).toBeTypeOf("object");
    const [issue] = refused(jsonNest(60_000), "json");
    expect(issue).toMatchObject({ message: "nested more than 32 levels deep", line: 1, column: 38 });
    expect(issue?.path).toBe(`/a${"/0".repeat(SPEC_LIMITS.maxDepth - 1)}`);
  });

  it("refuses strings and keys longer than SPEC_LIMITS.maxStringChars", () => {
    const long = "x".repeat(SPEC_LIMITS.maxStringChars + 1);
    expect(refused(`name: f\ndescription: ${long}\n`)).toEqual([
      { path: "/description", message: "a string of 16385 characters; at most 16384", line: 2, column: 14 },
    ]);
    expect(refused(`{"name": "f", "${long}": 1}`, "json")).toMatchObject([
      { message: "a key of 16385 characters; at most 16384" },
    ]);
  });

  it("refuses more than SPEC_LIMITS.maxNodes values once aliases expand, and more than maxAliases aliases", () => {
    const list = `[${Array.from({ length: 500 }, () => "1").join(", ")}]`;
    const expands = `a: &a ${list}\nb: [${Array.from({ length: 30 }, () => "*a").join(", ")}]\n`;
    // Reported at the alias whose expansion crossed the limit.
    expect(refused(expands)).toMatchObject([
      { path: "/b/18/457", message: /^more than 10000 keys and values in all/, line: 2, column: 77 },
    ]);
    const aliases = `a: &a 1\nb: [${Array.from({ length: SPEC_LIMITS.maxAliases + 1 }, () => "*a").join(", ")}]\n`;
    expect(refused(aliases)).toMatchObject([
      { path: "/b/100", message: "more than 100 aliases to expand", line: 2 },
    ]);
    const bomb = hostileSpecs(2_000).find((s) => s.name === "yaml-alias-bomb")?.text ?? "";
    expect(refused(bomb)).toMatchObject([{ message: "more than 100 aliases to expand" }]);
  });

  it("checks a value given as such (a JSON body) against the same limits, with paths", () => {
    expect(
      specValueLimitIssue({ gate: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, 1])) }),
    ).toEqual({
      path: "/gate",
      message: "has 101 keys; at most 100 in one mapping",
    });
    expect(
      specValueLimitIssue({ quantiles: Array.from({ length: SPEC_LIMITS.maxNodes }, () => 0.5) }),
    ).toMatchObject({
      path: `/quantiles/${SPEC_LIMITS.maxNodes - 3}`, // after the root, its key and the list
      message: /^more than 10000 keys and values/,
    });
    expect(specValueLimitIssue({ name: "f", candidates: ["ses"] })).toBeUndefined();
  });

  it("are the ones docs/reference/fleet-spec.md lists", () => {
    const doc = readFileSync(new URL("../../docs/reference/fleet-spec.md", import.meta.url), "utf8");
    const table = doc.slice(doc.indexOf("| limit "), doc.indexOf("\n\n", doc.indexOf("| limit ")));
    const values = [...table.matchAll(/^\|[^|]+\| ([\d,]+) +\|/gm)].map((m) =>
      Number(m[1]?.replaceAll(",", "")),
    );
    const { maxChars, maxYamlTokens, maxNodes, maxDepth, maxKeys, maxStringChars, maxAliases } = SPEC_LIMITS;
    expect(values).toEqual([
      maxChars,
      maxYamlTokens,
      maxNodes,
      maxDepth,
      maxKeys,
      maxStringChars,
      maxAliases,
    ]);
  });

  it.each(HOSTILE_SPEC_KINDS)("refuses the hostile spec %s at every size", (kind) => {
    for (const chars of [1_000_000, SPEC_LIMITS.maxChars, 7_000]) {
      const spec = hostileSpecs(chars).find((s) => s.name === kind);
      expect(spec, kind).toBeDefined();
      if (spec) expect(readSpecText(spec.text, spec.format).ok, `${kind} at ${chars}`).toBe(false);
    }
  });
});
