import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isSkalaError, type SkalaError } from "../core/index.js";
import {
  DEFAULT_QUANTILES,
  type FleetSpec,
  parseFleetSpec,
  type SpecIssue,
  toLoadOptions,
  toSegmentPlan,
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
      "/candidates/5/params/beta @13: not one of the hw-additive parameters (damped)",
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
