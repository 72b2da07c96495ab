import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isSkalaError, type SkalaError } from "../core/index.js";
import {
  DEFAULT_QUANTILES,
  type FleetSpec,
  parseFleetSpec,
  SPEC_LIMITS,
  type SpecIssue,
  toLoadOptions,
  toSegmentPlan,
  validateFleetSpec,
} from "./fleet-spec.js";

const DOC = readFileSync(new URL("../../docs/reference/fleet-spec.md", import.meta.url), "utf8");
const EXAMPLE = /```yaml\n([\s\S]*?)```/.exec(DOC)?.[1] ?? "";
const BASE = "/work/main/examples/carparts";

function parse(text: string, format?: "yaml" | "json"): FleetSpec {
  return parseFleetSpec(text, format ? { baseDir: BASE, format } : { baseDir: BASE });
}

function problems(text: string): SpecIssue[] {
  try {
    parseFleetSpec(text, { baseDir: BASE, fileName: "fleet.yaml" });
  } catch (error) {
    if (!isSkalaError(error)) throw error;
    expect(error.code).toBe("VALIDATION_FAILED");
    return error.details?.issues as SpecIssue[];
  }
  throw new Error("expected the spec to be invalid");
}

const MINIMAL = {
  name: "f",
  dataset: { path: "d.csv" },
  frequency: "monthly",
  horizon: 6,
  candidates: ["ses"],
};

describe("parseFleetSpec", () => {
  it("reads the reference's carparts example", () => {
    const spec = parse(EXAMPLE);
    expect(spec).toMatchObject({
      name: "carparts",
      project: "default",
      frequency: "monthly",
      period: 12,
      horizon: 12,
      validation: { scheme: "rolling", origins: 3, size: 12, step: 1 },
      selection: { metric: "wql" },
      gate: { metric: "wql", minImprovementPct: 0 },
      holdout: 0,
      output: { register: true, champion: true, atomic: false },
    });
    expect(spec.dataset.path).toBe("/work/shared/data/carparts/carparts.csv");
    expect(spec.candidates.map((c) => c.name)).toEqual([
      "snaive",
      "ses",
      "ets",
      "theta",
      "croston",
      "sba",
      "tsb",
      "adida",
    ]);
    expect(spec.candidates[2]).toEqual({
      name: "ets",
      spec: { method: "ets", model: "ZZZ" },
      distribution: "negbin",
    });
    expect(spec.gate.baseline).toEqual({ name: "snaive", spec: { method: "snaive" }, distribution: "auto" });
    expect(Object.isFrozen(spec.candidates[0]?.spec)).toBe(true);

    const plan = toSegmentPlan(spec);
    expect(plan.minLength).toBe(27); // 0 + (12 + 2) + max(12 + 1, snaive 13)
    expect(plan.quantiles).toEqual(DEFAULT_QUANTILES);
    expect(toSegmentPlan({ ...spec, holdout: 12 }).minLength).toBe(39);
    expect(toLoadOptions(spec)).toMatchObject({ fileName: "carparts.csv", na: "error", minLength: 27 });
  });

  it("fills the documented defaults", () => {
    const spec = parse(JSON.stringify(MINIMAL), "json");
    expect(spec).toMatchObject({
      project: "default",
      description: undefined,
      dataset: {
        path: `${BASE}/d.csv`,
        columns: { series: "series_id", time: "period_index", timeKind: "period", value: "value" },
        na: "error",
        invalidValues: "reject",
        minLength: undefined,
      },
      period: 12,
      validation: { scheme: "holdout", size: 6 },
      selection: { metric: "wql" },
      gate: { baseline: { name: "snaive", spec: { method: "snaive" } }, metric: "wql", minImprovementPct: 0 },
      quantiles: DEFAULT_QUANTILES,
      holdout: 0,
      output: { register: true, champion: true, atomic: false },
    });
    expect(toSegmentPlan(spec).minLength).toBe(6 + 13);
    expect(parse(JSON.stringify({ ...MINIMAL, output: { register: false } })).output.champion).toBe(false);
    expect(
      parse(JSON.stringify({ ...MINIMAL, dataset: { path: "/abs/d.csv", columns: { timestamp: "date" } } }))
        .dataset,
    ).toMatchObject({ path: "/abs/d.csv", columns: { time: "date", timeKind: "timestamp" } });
  });

  it("accepts a baseline given as a method with parameters, and a candidate name", () => {
    const spec = parse(
      JSON.stringify({
        ...MINIMAL,
        candidates: [{ name: "fast", method: "croston", params: { alpha: 0.2 } }],
        gate: {
          baseline: { method: "naive", distribution: "poisson" },
          metric: "mase",
          minImprovementPct: 5,
        },
      }),
    );
    expect(spec.gate).toEqual({
      baseline: { name: "baseline-naive", spec: { method: "naive" }, distribution: "poisson" },
      metric: "mase",
      minImprovementPct: 5,
    });
    expect(parse(JSON.stringify({ ...MINIMAL, gate: { baseline: "ses" } })).gate.baseline.name).toBe("ses");
  });

  it("reports every problem at once, with paths and YAML lines", () => {
    const text = [
      "name: bad name!", // 1
      "dataset:", // 2
      "  path: demand.csv", // 3
      "  na: skip", // 4
      "frequency: monthly", // 5
      "horizion: 12", // 6
      "candidates:", // 7
      "  - snaive", // 8
      "  - { method: ses, params: { alpha: 1.5 } }", // 9
      "  - { method: ets2 }", // 10
      "  - { method: ses, distribution: gauss }", // 11
      "  - { name: ses, method: croston }", // 12
      "  - { method: hw-additive, params: { beta: 0.1 } }", // 13
      "validation: { scheme: rolling, origins: 30 }", // 14
      "quantiles: [0.5, 0.1, 1]", // 15
      "gate: { baseline: snaiv }", // 16
      "output: { register: false, champion: true }", // 17
    ].join("\n");
    const issues = problems(text);
    // In the order they were written; missing fields point at the top of the file.
    expect(issues.map((i) => `${i.path} @${i.line}: ${i.message}`)).toEqual([
      "/horizon @1: is required",
      "/name @1: \"bad name!\" is not a valid fleet name (letters, digits, '.', '_', '-'; starting with a letter or digit; at most 100)",
      '/dataset/na @4: unknown NA policy "skip"; expected one of drop, zero, interpolate, error',
      '/horizion @6: unknown field; did you mean "horizon"?',
      "/candidates/1/params/alpha @9: must be a number in (0, 1], got 1.5",
      `/candidates/2/method @10: unknown method "ets2"; expected one of naive, snaive, mean, ses, holt, damped-holt, hw-additive, hw-multiplicative, ets, theta, croston, sba, tsb, adida (did you mean "ets"?)`,
      '/candidates/3 @11: duplicate candidate name "ses" (the method\'s name) (also /candidates/1); give each a distinct name',
      '/candidates/3/distribution @11: unknown distribution "gauss"; expected one of auto, analytic, negbin, poisson, empirical',
      '/candidates/4/name @12: duplicate candidate name "ses" (also /candidates/1); give each a distinct name',
      "/candidates/5/params/beta @13: not one of the parameters for hw-additive (damped)",
      "/validation/origins @14: must be an integer from 1 to 20, got 30",
      "/quantiles/1 @15: levels must be strictly increasing: 0.1 follows 0.5",
      "/quantiles/2 @15: must be a number strictly between 0 and 1, got 1",
      '/gate/baseline @16: "snaiv" is neither a candidate name nor a method; expected one of snaive, ses, ets2, hw-additive, naive, mean, holt, damped-holt, hw-multiplicative, ets, theta, croston, sba, tsb, adida (did you mean "snaive"?)',
      "/output/champion @17: champion needs register: true (only registered versions can carry an alias)",
    ]);
  });

  it("says the path in the message, once per problem", () => {
    try {
      parseFleetSpec("name: f\nfrequency: hourly\n", { baseDir: BASE, fileName: "f.yaml" });
    } catch (error) {
      expect((error as SkalaError).message).toBe(
        [
          "f.yaml: 4 problems",
          "  /dataset (line 1, column 1): is required: the series, as { path: <CSV file>, columns?, na?, invalidValues?, minLength? }",
          "  /horizon (line 1, column 1): is required",
          "  /candidates (line 1, column 1): is required: a list of methods to compare",
          '  /frequency (line 2, column 12): unknown frequency "hourly"; expected one of yearly, quarterly, monthly, weekly, daily',
        ].join("\n"),
      );
      return;
    }
    throw new Error("expected an error");
  });

  it("checks methods against the seasonal period", () => {
    const yearly = { ...MINIMAL, frequency: "yearly" };
    expect(problems(JSON.stringify({ ...yearly, candidates: ["hw-additive"] })).map((i) => i.path)).toEqual([
      "/candidates/0",
    ]);
    expect(
      problems(
        JSON.stringify({ ...MINIMAL, period: 52, candidates: [{ method: "ets", params: { model: "AAA" } }] }),
      ),
    ).toMatchObject([
      {
        path: "/candidates/0/params/model",
        message: "a seasonal ETS model needs a period from 2 to 24 (the period is 52)",
      },
    ]);
    expect(
      problems(JSON.stringify({ ...MINIMAL, candidates: [{ method: "ets", params: { model: "AMN" } }] }))[0]
        ?.message,
    ).toMatch(/multiplicative trends are not supported/);
  });

  it("validates a spec given as a value like the same spec as text, without places", () => {
    expect(validateFleetSpec(MINIMAL, { baseDir: BASE })).toEqual(parse(JSON.stringify(MINIMAL)));
    const wrong = { ...MINIMAL, horizon: 0, candidates: [{ method: "ets", params: { model: "AMN" } }] };
    let issues: SpecIssue[] = [];
    try {
      validateFleetSpec(wrong, { baseDir: BASE });
    } catch (error) {
      issues = (error as SkalaError).details?.issues as SpecIssue[];
    }
    expect(issues).toEqual(problems(JSON.stringify(wrong)).map(({ path, message }) => ({ path, message })));
    expect(issues.map((i) => i.path)).toEqual(["/horizon", "/candidates/0/params/model"]);
  });

  it("reports duplicate keys with both places, in YAML and JSON", () => {
    expect(problems("name: f\nhorizon: 6\nhorizon: 12\n")).toEqual([
      { path: "/horizon", message: 'duplicate key "horizon"; first at line 2, column 1', line: 3, column: 1 },
    ]);
    expect(problems('{"name": "f",\n "name": "g"}')).toEqual([
      { path: "/name", message: 'duplicate key "name"; first at line 1, column 2', line: 2, column: 2 },
    ]);
  });

  it("checks what every method form has in common when the method is unknown", () => {
    const issues = problems(
      JSON.stringify({ ...MINIMAL, candidates: [{ method: "sse", distribution: "gauss", prams: {} }] }),
    );
    expect(issues.map((i) => [i.path, i.message])).toEqual([
      ["/candidates/0/method", expect.stringMatching(/^unknown method "sse"; .*\(did you mean "ses"\?\)$/)],
      ["/candidates/0/distribution", expect.stringMatching(/^unknown distribution "gauss"/)],
      ["/candidates/0/prams", 'unknown field; did you mean "params"?'],
    ]);
  });

  it("expands YAML anchors and aliases", () => {
    const spec = parse(
      [
        "name: f",
        "dataset: { path: d.csv }",
        "frequency: monthly",
        "horizon: 6",
        "candidates:",
        "  - { method: croston, params: &slow { alpha: 0.05 } }",
        "  - { method: sba, params: *slow }",
      ].join("\n"),
    );
    expect(spec.candidates.map((c) => c.spec)).toEqual([
      { method: "croston", alpha: 0.05 },
      { method: "sba", alpha: 0.05 },
    ]);
  });

  it("lists at most SPEC_LIMITS.maxIssues problems, and says there are more", () => {
    try {
      parse(JSON.stringify({ ...MINIMAL, quantiles: Array.from({ length: 150 }, () => "x") }));
    } catch (error) {
      const { message, details } = error as SkalaError;
      expect(details?.issues).toHaveLength(SPEC_LIMITS.maxIssues);
      expect(details?.truncated).toBe(true);
      expect(message.split("\n")[0]).toBe("fleet spec: 100+ problems");
      expect(message.split("\n").at(-1)).toBe("  … and more");
      return;
    }
    throw new Error("expected an error");
  });

  it("reports syntax errors with their place", () => {
    const yaml = problems("name: f\ncandidates: [ses\n");
    expect(yaml[0]?.line).toBeGreaterThan(0);
    expect(yaml[0]?.message).toMatch(/^not valid YAML/);
    const json = problems('{ "name": "f"\n  "horizon": 12 }');
    expect(json[0]).toMatchObject({ path: "", line: 2 });
    expect(problems("name: a\nname: b\n")[0]?.message).toMatch(/not valid YAML.*[Uu]nique|duplicate/i);
    expect(problems("- just\n- a list\n")).toMatchObject([
      { path: "", message: "must be an object, got a list of 2" },
    ]);
  });
});

describe("parseFleetSpec: a file that is no spec", () => {
  // `skala fleet train /etc/passwd`, or a dataset named where the spec should be: whatever the file holds, the
  // error names where and what was expected, and quotes none of it (issue 17, defect 9).
  const SECRET = "root:x:0:0:secret";
  const files: [string, string, ("yaml" | "json")?][] = [
    ["a passwd file (one long YAML string)", `${SECRET}\ndaemon:x:1:1:daemon:/usr/sbin:/bin/sh\n`],
    ["its first line alone", `${SECRET}\n`],
    ["a passwd file read as JSON (V8 quotes the text)", `${SECRET}\n`, "json"],
    ["JSON that breaks off", `{"name": "${SECRET}`, "json"],
    ["a CSV header", `${SECRET},period_index,value\nA,1,2\n`],
    ["a number", "4711\n"],
    ["an unknown tag", `name: !${SECRET} x\n`],
    ["a directive", `%YAML 9.${SECRET}\n---\nname: x\n`],
    ["an escape sequence", `name: "\\x${SECRET}"\n`],
    ["a block scalar header", `name: |${SECRET}\n  x\n`],
  ];

  it.each(files)("%s: refused without quoting it", (_, text, format) => {
    let error: unknown;
    try {
      parseFleetSpec(text, { baseDir: BASE, fileName: "fleet.yaml", ...(format && { format }) });
    } catch (e) {
      error = e;
    }
    expect(isSkalaError(error) && error.code).toBe("VALIDATION_FAILED");
    const { message, details } = error as SkalaError;
    expect(message).toMatch(/^fleet\.yaml: /);
    for (const shown of [message, JSON.stringify(details)]) {
      expect(shown).not.toContain("secret");
      expect(shown).not.toContain("4711");
    }
  });

  it("says what the spec must be, and where", () => {
    expect(problems(`${SECRET}\n`)).toEqual([
      { path: "", message: "must be an object, got a string", line: 1, column: 1 },
    ]);
    expect(() => parse(`${SECRET}\n`, "json")).toThrow(/^fleet spec: \/: not valid JSON$/);
    expect(() => parse('{"name": 1}\n"x"', "json")).toThrow(
      /^fleet spec: \/ \(line 2, column 1\): not valid JSON$/,
    );
  });
});

describe("parseFleetSpec: a spec of brackets", () => {
  // A megabyte of `[` (issue 17, defect 4): as YAML flow sequences, closed or not, and inside quoted strings,
  // at the size an attacker would send and just under SPEC_LIMITS.maxChars, where the parser's own limits
  // have to stop it. Each is refused with the spec's code within a second (in a few milliseconds, in fact).
  const brackets = (n: number) => "[".repeat(n);
  const texts: [string, (chars: number) => string, "yaml" | "json", RegExp][] = [
    ["a flow sequence, unclosed", (n) => brackets(n), "yaml", /more than 10000 YAML tokens/],
    [
      "a flow sequence, closed",
      (n) => `${brackets(n / 2)}${"]".repeat(n / 2)}`,
      "yaml",
      /more than 10000 YAML tokens/,
    ],
    ["under a key", (n) => `name: ${brackets(n - 6)}`, "yaml", /more than 10000 YAML tokens/],
    [
      "in a double-quoted string",
      (n) => `name: "${brackets(n - 8)}"`,
      "yaml",
      /^\/name \(line\): a string of \d+ characters; at most 16384$/,
    ],
    [
      "in a single-quoted string",
      (n) => `name: '${brackets(n - 8)}'`,
      "yaml",
      /^\/name \(line\): a string of \d+ characters; at most 16384$/,
    ],
    [
      "in a string never closed",
      (n) => `name: "${brackets(n - 7)}`,
      "yaml",
      /not valid YAML: Missing closing "quote/,
    ],
    [
      "in a JSON string",
      (n) => `{"name": "${brackets(n - 12)}"}`,
      "json",
      /^\/name \(line\): a string of \d+ characters; at most 16384$/,
    ],
    ["as JSON, unclosed", (n) => brackets(n), "json", /not valid JSON: the text ends before the value does/],
  ];
  const sizes = [1_000_000, SPEC_LIMITS.maxChars];

  it.each(texts)("%s: refused with VALIDATION_FAILED within a second", (_, build, format, underLimit) => {
    for (const chars of sizes) {
      const text = build(chars);
      const started = performance.now();
      let error: unknown;
      try {
        parseFleetSpec(text, { baseDir: BASE, format });
      } catch (e) {
        error = e;
      }
      const took = performance.now() - started;
      expect(isSkalaError(error) && error.code, `${chars} characters`).toBe("VALIDATION_FAILED");
      const [issue] = ((error as SkalaError).details?.issues ?? []) as SpecIssue[];
      if (chars > SPEC_LIMITS.maxChars) {
        expect(issue?.message).toBe(
          `the spec must be text of at most ${SPEC_LIMITS.maxChars} characters, got ${text.length}`,
        );
      } else {
        expect(text.length).toBeLessThanOrEqual(SPEC_LIMITS.maxChars);
        expect(`${issue?.path || "/"}${issue?.line ? " (line)" : ""}: ${issue?.message}`).toMatch(underLimit);
      }
      expect(took, `${chars} characters refused after ${Math.round(took)} ms`).toBeLessThan(1_000);
    }
  });
});

describe("parseFleetSpec: every check", () => {
  // Each rule of the spec, one problem each, with the path it reports (the base commit's hand validation
  // reported the same paths). Specs as JSON text, so the same checks run as for YAML.
  const c = (fields: object) => ({ ...MINIMAL, ...fields });
  const CHECKS: [string, unknown, string, string][] = [
    ["not an object", ["x"], "", "must be an object, got a list of 1"],
    ["unknown field", c({ horizion: 1 }), "/horizion", 'unknown field; did you mean "horizon"?'],
    [
      "unknown field far",
      c({ zzzzzzzzz: 1 }),
      "/zzzzzzzzz",
      "unknown field; expected name, project, description, dataset, frequency, period, horizon, candidates, validation, selection, gate, quantiles, holdout, output",
    ],
    ["name missing", { ...MINIMAL, name: undefined }, "/name", "is required"],
    [
      "name pattern",
      c({ name: "-x" }),
      "/name",
      "\"-x\" is not a valid fleet name (letters, digits, '.', '_', '-'; starting with a letter or digit; at most 100)",
    ],
    [
      "project pattern",
      c({ project: "a b" }),
      "/project",
      "\"a b\" is not a valid project name (letters, digits, '.', '_', '-'; starting with a letter or digit; at most 100)",
    ],
    ["description type", c({ description: 5 }), "/description", "must be a string, got 5"],
    [
      "frequency missing",
      { ...MINIMAL, frequency: undefined },
      "/frequency",
      "is required; one of yearly, quarterly, monthly, weekly, daily",
    ],
    [
      "frequency enum",
      c({ frequency: "hourly" }),
      "/frequency",
      'unknown frequency "hourly"; expected one of yearly, quarterly, monthly, weekly, daily',
    ],
    [
      "frequency type",
      c({ frequency: 12 }),
      "/frequency",
      "frequency must be a string, got 12; expected one of yearly, quarterly, monthly, weekly, daily",
    ],
    ["period range", c({ period: 1001 }), "/period", "must be an integer from 1 to 1000, got 1001"],
    ["horizon missing", { ...MINIMAL, horizon: undefined }, "/horizon", "is required"],
    ["horizon type", c({ horizon: 1.5 }), "/horizon", "must be an integer from 1 to 1000, got 1.5"],
    [
      "dataset missing",
      { ...MINIMAL, dataset: undefined },
      "/dataset",
      "is required: the series, as { path: <CSV file>, columns?, na?, invalidValues?, minLength? }",
    ],
    ["dataset type", c({ dataset: "d.csv" }), "/dataset", 'must be an object, got "d.csv"'],
    [
      "dataset unknown",
      c({ dataset: { path: "d", pth: 1 } }),
      "/dataset/pth",
      'unknown field; did you mean "path"?',
    ],
    ["path missing", c({ dataset: {} }), "/dataset/path", "is required"],
    ["path type", c({ dataset: { path: 1 } }), "/dataset/path", "must be a string, got 1"],
    [
      "path empty",
      c({ dataset: { path: "" } }),
      "/dataset/path",
      '"" is not a valid file path (not blank, no NUL characters)',
    ],
    [
      "path blank",
      c({ dataset: { path: "  " } }),
      "/dataset/path",
      '"  " is not a valid file path (not blank, no NUL characters)',
    ],
    [
      "path nul",
      c({ dataset: { path: "a\u0000b" } }),
      "/dataset/path",
      '"a\\u0000b" is not a valid file path (not blank, no NUL characters)',
    ],
    [
      "columns type",
      c({ dataset: { path: "d", columns: [] } }),
      "/dataset/columns",
      "must be an object, got a list of 0",
    ],
    [
      "columns unknown",
      c({ dataset: { path: "d", columns: { serie: "s" } } }),
      "/dataset/columns/serie",
      'unknown field; did you mean "series"?',
    ],
    [
      "column type",
      c({ dataset: { path: "d", columns: { series: 1 } } }),
      "/dataset/columns/series",
      "must be a string, got 1",
    ],
    [
      "column blank",
      c({ dataset: { path: "d", columns: { value: " " } } }),
      "/dataset/columns/value",
      '" " is not a valid column name (not blank)',
    ],
    [
      "period and timestamp",
      c({ dataset: { path: "d", columns: { period: "p", timestamp: "t" } } }),
      "/dataset/columns/timestamp",
      "give either period (integer indexes) or timestamp (ISO dates), not both",
    ],
    [
      "columns distinct",
      c({ dataset: { path: "d", columns: { series: "v", value: "v" } } }),
      "/dataset/columns",
      "series, time and value must be three different columns, got v, period_index, v",
    ],
    [
      "na enum",
      c({ dataset: { path: "d", na: "skip" } }),
      "/dataset/na",
      'unknown NA policy "skip"; expected one of drop, zero, interpolate, error',
    ],
    [
      "invalidValues enum",
      c({ dataset: { path: "d", invalidValues: "fail" } }),
      "/dataset/invalidValues",
      'unknown invalid-value policy "fail"; expected one of reject, fail-series',
    ],
    [
      "minLength range",
      c({ dataset: { path: "d", minLength: 1 } }),
      "/dataset/minLength",
      "must be an integer from 2 to 1000000, got 1",
    ],
    [
      "candidates missing",
      { ...MINIMAL, candidates: undefined },
      "/candidates",
      "is required: a list of methods to compare",
    ],
    [
      "candidates empty",
      c({ candidates: [] }),
      "/candidates",
      "must be a list of 1 to 50 candidates, got a list of 0",
    ],
    [
      "candidates too many",
      c({ candidates: Array.from({ length: 51 }, (_, i) => ({ name: `c${i}`, method: "ses" })) }),
      "/candidates",
      "must be a list of 1 to 50 candidates, got a list of 51",
    ],
    [
      "candidates type",
      c({ candidates: "ses" }),
      "/candidates",
      'must be a list of 1 to 50 candidates, got "ses"',
    ],
    [
      "shorthand enum",
      c({ candidates: ["sess"] }),
      "/candidates/0",
      'unknown method "sess"; expected one of naive, snaive, mean, ses, holt, damped-holt, hw-additive, hw-multiplicative, ets, theta, croston, sba, tsb, adida (did you mean "ses"?)',
    ],
    [
      "candidate type",
      c({ candidates: [5] }),
      "/candidates/0",
      "must be a method name, or { name?, method, params?, distribution? }, got 5",
    ],
    [
      "candidate unknown field",
      c({ candidates: [{ method: "ses", prams: {} }] }),
      "/candidates/0/prams",
      'unknown field; did you mean "params"?',
    ],
    [
      "method missing",
      c({ candidates: [{ name: "x" }] }),
      "/candidates/0/method",
      "is required; one of naive, snaive, mean, ses, holt, damped-holt, hw-additive, hw-multiplicative, ets, theta, croston, sba, tsb, adida",
    ],
    [
      "method enum",
      c({ candidates: [{ method: "ets2" }] }),
      "/candidates/0/method",
      'unknown method "ets2"; expected one of naive, snaive, mean, ses, holt, damped-holt, hw-additive, hw-multiplicative, ets, theta, croston, sba, tsb, adida (did you mean "ets"?)',
    ],
    [
      "method type",
      c({ candidates: [{ method: 5 }] }),
      "/candidates/0/method",
      "method must be a string, got 5; expected one of naive, snaive, mean, ses, holt, damped-holt, hw-additive, hw-multiplicative, ets, theta, croston, sba, tsb, adida",
    ],
    [
      "candidate name pattern",
      c({ candidates: [{ name: "a b", method: "ses" }] }),
      "/candidates/0/name",
      "\"a b\" is not a valid candidate name (letters, digits, '.', '_', '-'; at most 64)",
    ],
    [
      "distribution enum",
      c({ candidates: [{ method: "ses", distribution: "normal" }] }),
      "/candidates/0/distribution",
      'unknown distribution "normal"; expected one of auto, analytic, negbin, poisson, empirical',
    ],
    [
      "params type",
      c({ candidates: [{ method: "ses", params: 1 }] }),
      "/candidates/0/params",
      "must be an object, got 1",
    ],
    [
      "params unknown",
      c({ candidates: [{ method: "holt", params: { gamma: 0.1 } }] }),
      "/candidates/0/params/gamma",
      "not one of the parameters for holt (alpha, beta)",
    ],
    [
      "params none",
      c({ candidates: [{ method: "naive", params: { alpha: 0.1 } }] }),
      "/candidates/0/params/alpha",
      "there are no parameters for naive",
    ],
    [
      "unit",
      c({ candidates: [{ method: "ses", params: { alpha: 0 } }] }),
      "/candidates/0/params/alpha",
      "must be a number in (0, 1], got 0",
    ],
    [
      "unit or zero",
      c({ candidates: [{ method: "ets", params: { gamma: -0.1 } }] }),
      "/candidates/0/params/gamma",
      "must be a number in [0, 1], got -0.1",
    ],
    [
      "boolean",
      c({ candidates: [{ method: "hw-additive", params: { damped: "yes" } }] }),
      "/candidates/0/params/damped",
      'must be true or false, got "yes"',
    ],
    [
      "aggregation",
      c({ candidates: [{ method: "adida", params: { aggregation: 0 } }] }),
      "/candidates/0/params/aggregation",
      "must be an integer from 1 to 1000, got 0",
    ],
    [
      "ic enum",
      c({ candidates: [{ method: "ets", params: { ic: "aik" } }] }),
      "/candidates/0/params/ic",
      'unknown information criterion "aik"; expected one of aicc, aic, bic (did you mean "aic"?)',
    ],
    [
      "criterion enum",
      c({ candidates: [{ method: "ets", params: { criterion: "lk" } }] }),
      "/candidates/0/params/criterion",
      'unknown estimation criterion "lk"; expected one of lik, mse, amse, sigma, mae (did you mean "lik"?)',
    ],
    [
      "ets model type",
      c({ candidates: [{ method: "ets", params: { model: 1 } }] }),
      "/candidates/0/params/model",
      "must be a string, got 1",
    ],
    [
      "ets model pattern",
      c({ candidates: [{ method: "ets", params: { model: "ZZZZ" } }] }),
      "/candidates/0/params/model",
      '"ZZZZ" is not a valid ETS model (three letters error (A, M, Z), trend (N, A, Z, optionally followed by d) and season (N, A, M, Z), e.g. "ZZZ" or "AAdN")',
    ],
    [
      "ets M trend",
      c({ candidates: [{ method: "ets", params: { model: "AMN" } }] }),
      "/candidates/0/params/model",
      '"AMN": multiplicative trends are not supported (as R\'s ets() by default); use N, A or Z',
    ],
    [
      "ets A/M",
      c({ candidates: [{ method: "ets", params: { model: "AAM" } }] }),
      "/candidates/0/params/model",
      '"AAM": additive errors with a multiplicative season are unstable; use M errors or an A season',
    ],
    [
      "ets damped no trend",
      c({ candidates: [{ method: "ets", params: { model: "ANdN" } }] }),
      "/candidates/0/params/model",
      '"ANdN": a damped model needs a trend',
    ],
    [
      "ets seasonal period",
      c({ period: 52, candidates: [{ method: "ets", params: { model: "AAA" } }] }),
      "/candidates/0/params/model",
      "a seasonal ETS model needs a period from 2 to 24 (the period is 52)",
    ],
    [
      "ets damped false",
      c({ candidates: [{ method: "ets", params: { model: "AAdN", damped: false } }] }),
      "/candidates/0/params/damped",
      'model "AAdN" is damped but damped is false',
    ],
    [
      "ets damped no trend flag",
      c({ candidates: [{ method: "ets", params: { model: "ANN", damped: true } }] }),
      "/candidates/0/params/damped",
      'model "ANN" has no trend to damp',
    ],
    [
      "hw period",
      c({ frequency: "yearly", candidates: [{ method: "hw-additive" }] }),
      "/candidates/0/method",
      "hw-additive needs a seasonal period above 1 (the period is 1)",
    ],
    [
      "duplicate names",
      c({ candidates: ["ses", { name: "ses", method: "holt" }] }),
      "/candidates/1/name",
      'duplicate candidate name "ses" (also /candidates/0); give each a distinct name',
    ],
    ["validation type", c({ validation: 1 }), "/validation", "must be an object, got 1"],
    [
      "validation unknown",
      c({ validation: { schema: "x" } }),
      "/validation/schema",
      'unknown field; did you mean "scheme"?',
    ],
    [
      "scheme enum",
      c({ validation: { scheme: "kfold" } }),
      "/validation/scheme",
      'unknown scheme "kfold"; expected one of holdout, rolling',
    ],
    [
      "size range",
      c({ validation: { size: 0 } }),
      "/validation/size",
      "must be an integer from 1 to 1000, got 0",
    ],
    [
      "origins for holdout",
      c({ validation: { scheme: "holdout", origins: 2 } }),
      "/validation/origins",
      'only for scheme "rolling"',
    ],
    ["step for holdout", c({ validation: { step: 2 } }), "/validation/step", 'only for scheme "rolling"'],
    [
      "origins required",
      c({ validation: { scheme: "rolling" } }),
      "/validation/origins",
      'is required for scheme "rolling" (1 to 20)',
    ],
    [
      "origins range",
      c({ validation: { scheme: "rolling", origins: 21 } }),
      "/validation/origins",
      "must be an integer from 1 to 20, got 21",
    ],
    [
      "step range",
      c({ validation: { scheme: "rolling", origins: 2, step: 0 } }),
      "/validation/step",
      "must be an integer from 1 to 1000, got 0",
    ],
    ["selection type", c({ selection: "wql" }), "/selection", 'must be an object, got "wql"'],
    [
      "selection unknown",
      c({ selection: { metrc: "wql" } }),
      "/selection/metrc",
      'unknown field; did you mean "metric"?',
    ],
    [
      "selection metric",
      c({ selection: { metric: "mape" } }),
      "/selection/metric",
      'unknown metric "mape"; expected one of mase, rmsse, wql, smape, mae, rmse (did you mean "mase"?)',
    ],
    ["gate type", c({ gate: [] }), "/gate", "must be an object, got a list of 0"],
    [
      "gate unknown",
      c({ gate: { baseine: "ses" } }),
      "/gate/baseine",
      'unknown field; did you mean "baseline"?',
    ],
    [
      "baseline unknown name",
      c({ gate: { baseline: "x" } }),
      "/gate/baseline",
      '"x" is neither a candidate name nor a method; expected one of ses, naive, snaive, mean, holt, damped-holt, hw-additive, hw-multiplicative, ets, theta, croston, sba, tsb, adida',
    ],
    [
      "baseline object",
      c({ gate: { baseline: { method: "ses", params: { alpha: 2 } } } }),
      "/gate/baseline/params/alpha",
      "must be a number in (0, 1], got 2",
    ],
    [
      "baseline object name",
      c({ gate: { baseline: { name: "b", method: "ses" } } }),
      "/gate/baseline/name",
      "unknown field; expected method, params, distribution",
    ],
    [
      "baseline type",
      c({ gate: { baseline: 5 } }),
      "/gate/baseline",
      "must be a candidate's name, a method name, or { method, params?, distribution? }, got 5",
    ],
    [
      "baseline hw period",
      c({ frequency: "yearly", gate: { baseline: "hw-additive" } }),
      "/gate/baseline",
      "hw-additive needs a seasonal period above 1 (the period is 1)",
    ],
    [
      "gate metric",
      c({ gate: { metric: "x" } }),
      "/gate/metric",
      'unknown metric "x"; expected one of mase, rmsse, wql, smape, mae, rmse',
    ],
    [
      "gate pct",
      c({ gate: { minImprovementPct: -100 } }),
      "/gate/minImprovementPct",
      "must be a number strictly between -100 and 100, got -100",
    ],
    ["quantiles type", c({ quantiles: 0.5 }), "/quantiles", "must be a list of 1 to 99 levels, got 0.5"],
    [
      "quantiles empty",
      c({ quantiles: [] }),
      "/quantiles",
      "must be a list of 1 to 99 levels, got a list of 0",
    ],
    [
      "quantiles too many",
      c({ quantiles: Array.from({ length: 100 }, (_, i) => (i + 1) / 101) }),
      "/quantiles",
      "must be a list of 1 to 99 levels, got a list of 100",
    ],
    [
      "quantile range",
      c({ quantiles: [0] }),
      "/quantiles/0",
      "must be a number strictly between 0 and 1, got 0",
    ],
    [
      "quantile type",
      c({ quantiles: ["0.5"] }),
      "/quantiles/0",
      'must be a number strictly between 0 and 1, got "0.5"',
    ],
    [
      "quantiles increasing",
      c({ quantiles: [0.5, 0.5] }),
      "/quantiles/1",
      "levels must be strictly increasing: 0.5 follows 0.5",
    ],
    ["holdout range", c({ holdout: -1 }), "/holdout", "must be an integer from 0 to 1000, got -1"],
    ["output type", c({ output: true }), "/output", "must be an object, got true"],
    [
      "output unknown",
      c({ output: { registr: true } }),
      "/output/registr",
      'unknown field; did you mean "register"?',
    ],
    ["output boolean", c({ output: { atomic: 1 } }), "/output/atomic", "must be true or false, got 1"],
    [
      "champion needs register",
      c({ output: { register: false, champion: true } }),
      "/output/champion",
      "champion needs register: true (only registered versions can carry an alias)",
    ],
  ];

  it.each(CHECKS)("%s", (_, spec, path, message) => {
    expect(problems(JSON.stringify(spec)).map((i) => [i.path, i.message])).toEqual([[path, message]]);
  });
});

describe("parseFleetSpec: properties", () => {
  const throwsOnlySkalaErrors = (text: string, format?: "yaml" | "json") => {
    try {
      parse(text, format);
    } catch (error) {
      if (!isSkalaError(error)) throw error;
    }
  };

  it("random values never throw anything but a SkalaError", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => throwsOnlySkalaErrors(JSON.stringify(value) ?? "null", "json")),
      { numRuns: 300 },
    );
  });

  it("random mutations of a valid spec never throw anything but a SkalaError", () => {
    const field = fc.constantFrom(
      "name",
      "project",
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
    );
    const weird = fc.oneof(
      fc.jsonValue(),
      fc.constantFrom("ets", "snaive", "rolling", "wql", -1, 0, 1e9, 0.5, [], {}, { method: "ets" }),
      fc.record({
        scheme: fc.constantFrom("holdout", "rolling", "x"),
        origins: fc.integer(),
        size: fc.integer(),
      }),
      fc.array(fc.oneof(fc.constantFrom(...["ses", "ets", "hw-additive", "x"]), fc.object()), {
        maxLength: 4,
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(field, weird), { maxLength: 4 }), (edits) => {
        const spec: Record<string, unknown> = structuredClone(MINIMAL);
        for (const [key, value] of edits) spec[key] = value;
        throwsOnlySkalaErrors(JSON.stringify(spec));
      }),
      { numRuns: 300 },
    );
  });

  it("random YAML-ish text never throws anything but a SkalaError", () => {
    const text = fc
      .array(
        fc.oneof(
          fc.constantFrom("name: f\n", "- ", ": ", "{", "}", "[", "]", "&a ", "*a ", "\n  ", "!!js "),
          fc.string(),
        ),
        {
          maxLength: 30,
        },
      )
      .map((p) => p.join(""));
    fc.assert(
      fc.property(text, (t) => throwsOnlySkalaErrors(t)),
      { numRuns: 300 },
    );
  });
});
