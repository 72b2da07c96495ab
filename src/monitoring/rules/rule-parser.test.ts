import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SkalaError } from "../../core/index.js";
import {
  parseRule,
  parseRuleSyntax,
  printRule,
  RULE_LIMITS,
  type RuleExpression,
  type RuleProblem,
  requirements,
} from "./index.js";
import { syntaxArbitrary, typedRuleArbitrary } from "./test-support/rule-arbitraries.js";

const num = (value: number): RuleExpression => ({ kind: "number", value });
const out = (name: string): RuleExpression => ({ kind: "output", name });

function ruleError(text: string, parse: (t: string) => unknown = parseRule): SkalaError {
  try {
    parse(text);
  } catch (error) {
    if (error instanceof SkalaError && error.code === "RULE_INVALID") return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

function problems(text: string): RuleProblem[] {
  return ruleError(text).details?.problems as RuleProblem[];
}

describe("parseRuleSyntax", () => {
  it("parses the issue's two examples", () => {
    expect(parseRuleSyntax("forecast >= 0").ast).toEqual({
      kind: "compare",
      op: ">=",
      left: out("forecast"),
      right: num(0),
    });
    expect(parseRuleSyntax("coverage(80, last 8 periods) >= 0.7").ast).toEqual({
      kind: "compare",
      op: ">=",
      left: {
        kind: "call",
        name: "coverage",
        args: [num(80), { kind: "window", size: 8, unit: "periods" }],
      },
      right: num(0.7),
    });
  });

  it("binds * over +, + over comparisons, comparisons over not, not over and, and over or", () => {
    expect(printRule(parseRuleSyntax("a + b * c > 1 or not d < 2 and e == 3").ast)).toBe(
      "a + b * c > 1 or not d < 2 and e == 3",
    );
    expect(parseRuleSyntax("a - b - c > 0").ast).toMatchObject({
      left: {
        kind: "arithmetic",
        op: "-",
        left: { op: "-", left: out("a"), right: out("b") },
        right: out("c"),
      },
    });
    expect(parseRuleSyntax("x or y and z").ast).toMatchObject({ kind: "or", right: { kind: "and" } });
    expect(parseRuleSyntax("not x and y").ast).toMatchObject({ kind: "and", left: { kind: "not" } });
    expect(parseRuleSyntax("-a * b").ast).toMatchObject({
      kind: "arithmetic",
      op: "*",
      left: { kind: "negate" },
    });
    expect(parseRuleSyntax("(a + b) * c").ast).toMatchObject({ op: "*", left: { op: "+" } });
  });

  it("reads names: outputs, inputs, references, observed values, quoted names, metric shorthands", () => {
    expect(parseRuleSyntax("inputs.temperature").ast).toEqual({ kind: "input", name: "temperature" });
    expect(parseRuleSyntax("inputs.`x-1`").ast).toEqual({ kind: "input", name: "x-1" });
    expect(parseRuleSyntax("reference.mae").ast).toEqual({ kind: "reference", name: "mae" });
    expect(parseRuleSyntax("`output:0`").ast).toEqual(out("output:0"));
    expect(parseRuleSyntax("outputs.mae").ast).toEqual(out("mae"));
    expect(parseRuleSyntax("`a\\`b\\\\`").ast).toEqual(out("a`b\\"));
    expect(parseRuleSyntax("abs_error").ast).toEqual({ kind: "observed", name: "abs_error" });
    expect(parseRuleSyntax("probabilities").ast).toEqual(out("probabilities"));
    expect(parseRuleSyntax("mae").ast).toEqual({ kind: "call", name: "mae", args: [] });
    expect(parseRuleSyntax("coverage_80").ast).toEqual({ kind: "call", name: "coverage", args: [num(80)] });
    expect(parseRuleSyntax("coverage_x").ast).toEqual(out("coverage_x"));
  });

  it("reads windows in every unit, singular or plural, keywords in any case", () => {
    const window = (text: string) => {
      const ast = parseRuleSyntax(`count(${text})`).ast;
      return ast.kind === "call" ? ast.args[0] : undefined;
    };
    expect(window("last 1 prediction")).toEqual({ kind: "window", size: 1, unit: "predictions" });
    expect(window("LAST 8 Periods")).toEqual({ kind: "window", size: 8, unit: "periods" });
    expect(window("last 15 minutes")).toEqual({ kind: "window", size: 15, unit: "minutes" });
    expect(window("last 1 hour")).toEqual({ kind: "window", size: 1, unit: "hours" });
    expect(window("last 30 days")).toEqual({ kind: "window", size: 30, unit: "days" });
    expect(parseRuleSyntax("TRUE AND NOT False Or x").ast).toMatchObject({ kind: "or" });
  });

  it("reads numbers: decimals, exponents, a leading dot", () => {
    const value = (text: string) => (parseRuleSyntax(`x > ${text}`).ast as { right: RuleExpression }).right;
    expect(value("1.5e3")).toEqual(num(1500));
    expect(value(".5")).toEqual(num(0.5));
    expect(value("1e+21")).toEqual(num(1e21));
    expect(value("-2")).toEqual({ kind: "negate", operand: num(2) });
  });

  describe("syntax errors, with positions", () => {
    const cases: Array<[text: string, position: number, message: string]> = [
      ["", 0, "unexpected end of rule at position 0: expected a number, a name"],
      ["forecast >=", 11, "unexpected end of rule at position 11"],
      ["forecast >= 0 0", 14, 'unexpected number "0" at position 14: expected an operator, "and", "or"'],
      [
        "(forecast >= 0",
        14,
        'unexpected end of rule at position 14: expected "and", "or", an operator or ")"',
      ],
      [
        "forecast >= 0)",
        13,
        'unexpected ")" at position 13: expected an operator, "and", "or" or the end of the rule (unbalanced ")")',
      ],
      ["1 < 2 < 3", 6, 'comparisons do not chain: "<" after a comparison at position 6'],
      ["forecast = 0", 9, 'unexpected character "=" at position 9'],
      ["forecast ! 0", 9, 'unexpected character "!" at position 9'],
      ["forecast >= 1e999", 12, "number 1e999 is out of range at position 12"],
      ["forecast >= 12abc", 12, 'malformed number "12abc" at position 12'],
      ["forecast >= 1.2.3", 12, 'malformed number "1.2.3" at position 12'],
      ["`abc > 0", 0, "unterminated quoted name at position 0: expected a closing `"],
      ["`` > 0", 0, "empty name at position 0"],
      ["`a\\qb` > 0", 2, 'unknown escape "\\q" at position 2'],
      ["inputs > 0", 7, 'unexpected ">" at position 7: expected "." and a name after "inputs"'],
      ["inputs. > 0", 8, 'unexpected ">" at position 8: expected a name after "inputs."'],
      [
        "count(last periods)",
        11,
        'unexpected "periods" at position 11: expected a whole number after "last"',
      ],
      ["count(last 8)", 12, 'unexpected ")" at position 12: expected a unit'],
      ["mean(x last 8 periods) > 0", 7, 'unexpected "last" at position 7: expected "," or ")"'],
      ["x > 0 and", 9, "unexpected end of rule at position 9"],
      ["and > 0", 0, 'unexpected "and" at position 0'],
      ["x > 0 # comment", 6, 'unexpected character "#" at position 6'],
      ["x > \u0001", 4, 'unexpected character "\\u0001" at position 4'],
    ];
    it.each(cases)("%j fails at %i", (text, position, message) => {
      const error = ruleError(text, parseRuleSyntax);
      expect(error.details?.position).toBe(position);
      expect(error.message).toContain(message);
      expect(error.details?.problems).toEqual([expect.objectContaining({ position })]);
    });
  });
});

describe("parseRule: static checks", () => {
  it("accepts the documented examples and marks per-prediction rules", () => {
    const examples = [
      "forecast >= 0",
      "coverage(80, last 8 periods) >= 0.7",
      "coverage_80 >= 0.7",
      "mean(abs_error, last 100 predictions) <= 1.5 * reference.mae",
      "max(latency_ms, last 1 hour) < 200",
      "quantile(latency_ms, 0.99, last 1000 predictions) < 250",
      "share(forecast < 0, last 30 days) < 0.01",
      "count(forecast < 0, last 1 day) == 0 and count(last 1 day) > 10",
      "mase(last 12 periods) < 1.2 * reference.mase",
      "abs(bias(last 12 periods)) <= 0.1 * reference.mae",
      "all(inputs.temperature >= -40 and inputs.temperature <= 60, last 1 hour)",
      "accuracy(last 500 predictions) >= reference.accuracy - 0.05",
      "not any(probabilities > 1, last 10 minutes)",
      "lower_80 <= forecast and forecast <= upper_80",
    ];
    for (const text of examples) expect(() => parseRule(text), text).not.toThrow();
    expect(parseRule("forecast >= 0").perPrediction).toBe(true);
    expect(parseRule("abs(forecast - inputs.last) < 3 * reference.mae").perPrediction).toBe(true);
    expect(parseRule("coverage(80, last 8 periods) >= 0.7").perPrediction).toBe(false);
    expect(parseRule("share(forecast < 0, last 30 days) < 0.01").perPrediction).toBe(false);
  });

  it("reports every problem at once, in text order, with positions", () => {
    const text = "foo(1) > 0 and coverage(101, last 8 apples) > 0.5 or quantile(forecast, 2) > true + 1";
    expect(problems(text)).toEqual([
      expect.objectContaining({ position: 0, message: 'unknown function "foo"' }),
      expect.objectContaining({
        position: 24,
        message: expect.stringContaining("coverage's level is a whole percentage"),
      }),
      expect.objectContaining({ position: 36, message: 'unknown window unit "apples"' }),
      expect.objectContaining({ position: 72, message: expect.stringContaining("quantile's level") }),
      expect.objectContaining({ position: 82, message: '"+" needs numbers, got a condition and a number' }),
    ]);
    expect(ruleError(text).message).toMatch(
      /^unknown function "foo" at position 0: expected one of mean, .* \(and 4 more problems\)$/,
    );
  });

  const cases: Array<[text: string, position: number, message: string]> = [
    ["mean(forecast)", 0, "a rule is a condition (such as forecast >= 0), got a number"],
    ["forecast", 0, "a rule is a condition"],
    ["forecast + true > 1", 9, '"+" needs numbers, got a number and a condition'],
    ["not forecast", 0, '"not" needs a condition, got a number'],
    ["-(x > 1)", 0, '"-" needs a number, got a condition'],
    ["1 and x > 0", 2, '"and" needs conditions, got a number and a condition'],
    ["(x > 0) == 1", 8, '"==" compares two numbers or two conditions, got a condition and a number'],
    ["(x > 0) < (y > 0)", 8, '"<" needs numbers, got a condition and a condition'],
    ["mean(last 8 periods) > 0", 0, "mean takes 1 argument besides its window, got 0"],
    ["mean(x, y, last 8 periods) > 0", 0, "mean takes 1 argument besides its window, got 2"],
    ["mae(x) > 0", 0, "mae takes no arguments besides its window, got 1"],
    ["mean(x, last 8 periods, last 9 periods) > 0", 24, "mean takes one window"],
    ["mean(last 8 periods, x) > 0", 5, "the window comes last in mean(…)"],
    ["abs(x, last 1 hour) > 0", 7, "abs takes no window"],
    ["mean(reference.mae, last 8 periods) > 0", 5, "mean needs a value per prediction"],
    ["mean(x > 0, last 8 periods) > 0", 5, "mean needs a number, got a condition"],
    ["share(x, last 8 periods) > 0", 6, "share needs a condition, got a number"],
    ["all(true, last 8 periods)", 4, "all needs a value per prediction"],
    ["quantile(x, reference.q) > 0", 12, "quantile's level is a number from 0 to 1"],
    ["coverage(80.5) > 0", 9, "coverage's level is a whole percentage from 1 to 99"],
    ["coverage_0 > 0", 9, "coverage's level is a whole percentage"],
    ["count(last 0 predictions) > 0", 11, "window size must be a whole number of at least 1, got 0"],
    ["count(last 1.5 hours) > 0", 11, "window size must be a whole number of at least 1, got 1.5"],
    [
      "count(last 1000001 predictions) > 0",
      11,
      "window of 1000001 predictions is larger than the limit of 1000000",
    ],
    ["count(last 367 days) > 0", 11, "larger than the limit of 366 days"],
    ["stats.x > 0", 0, 'unknown namespace "stats"'],
    ["MAE(last 8 periods) > 0", 0, 'unknown function "MAE" (function names are lowercase: mae)'],
  ];
  it.each(cases)("%j: problem at %i", (text, position, message) => {
    const found = problems(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ position });
    expect(found[0]?.message).toContain(message);
  });

  it("refuses periods for a model that is not a forecast model, when told the kind", () => {
    expect(() => parseRule("coverage(80, last 8 periods) >= 0.7", { modelKind: "forecast" })).not.toThrow();
    expect(() => parseRule("coverage(80, last 8 periods) >= 0.7")).not.toThrow();
    const error = ruleError("coverage(80, last 8 periods) >= 0.7", (t) =>
      parseRule(t, { modelKind: "predictor" }),
    );
    expect(error.details?.problems).toEqual([
      {
        position: 13,
        message: "a window of periods needs a forecast model",
        expected: "predictions, minutes, hours or days",
      },
    ]);
  });

  it("exposes what a rule needs", () => {
    expect(requirements(parseRule("coverage(80, last 8 periods) >= 0.7 and forecast >= 0"))).toEqual({
      outputs: ["forecast", "lower_80", "upper_80"],
      inputs: [],
      observed: [],
      references: [],
      reads: [
        {
          window: { kind: "window", size: 100, unit: "predictions" },
          columns: ["outputs.forecast"],
          actualsOnly: false,
        },
        {
          window: { kind: "window", size: 8, unit: "periods" },
          columns: ["actual", "outputs.lower_80", "outputs.upper_80"],
          actualsOnly: true,
        },
      ],
      needsActuals: true,
      usesPeriods: true,
    });
    const r = requirements(parseRule("mase(last 12 periods) < 1 and mean(inputs.x - reference.mean_x) < 2"));
    expect(r.references).toEqual(["mean_x", "scale"]);
    expect(r.inputs).toEqual(["x"]);
    expect(r.reads.map((read) => read.actualsOnly)).toEqual([true, false]);
  });

  describe("limits", () => {
    it("refuses a rule longer than 4 KiB before reading it", () => {
      const error = ruleError(`x > ${"1".repeat(RULE_LIMITS.maxLength)}`);
      expect(error.details?.position).toBe(RULE_LIMITS.maxLength);
      expect(error.message).toMatch(/more than the limit of 4096/);
    });

    it("refuses 100,000 parentheses fast, without a stack overflow", () => {
      const started = performance.now();
      expect(ruleError("(".repeat(100_000)).message).toMatch(/more than the limit/);
      expect(ruleError(`${"(".repeat(50_000)}x > 0${")".repeat(50_000)}`).message).toMatch(
        /more than the limit/,
      );
      expect(performance.now() - started).toBeLessThan(100);
    });

    it.each([
      ["parentheses", `${"(".repeat(2000)}x > 0${")".repeat(2000)}`, 32],
      ["not", `${"not ".repeat(1000)}true`, 128],
      ["unary minus", `${"-".repeat(4000)}1 > 0`, 32],
      ["calls", `${"abs(".repeat(800)}x${")".repeat(800)} > 0`, 131],
    ])("refuses nesting deeper than %s allows", (_what, text, position) => {
      const error = ruleError(text);
      expect(error.message).toMatch(/nests deeper than 32 levels/);
      expect(error.details?.position).toBe(position);
    });

    it("checks and prints long flat chains without recursion trouble", () => {
      const text = `${Array.from({ length: 1000 }, () => "x").join(" + ")} > 0`;
      expect(text.length).toBeLessThan(RULE_LIMITS.maxLength);
      expect(printRule(parseRule(text).ast)).toBe(text);
    });

    it("refuses more than 32 windowed functions", () => {
      const text = Array.from({ length: 33 }, () => "count(last 1 hour) > 0").join(" and ");
      const found = problems(text);
      expect(found).toHaveLength(1);
      expect(found[0]?.message).toBe("rule reads more than 32 windows");
      expect(found[0]?.position).toBe(32 * "count(last 1 hour) > 0 and ".length);
    });
  });
});

describe("printRule", () => {
  it("prints a normalised rule", () => {
    expect(printRule(parseRule("mean(abs_error,last 100 predictions)<=1.5*reference.mae").ast)).toBe(
      "mean(abs_error, last 100 predictions) <= 1.5 * reference.mae",
    );
    expect(printRule(parseRule("coverage_80>=.7 AND NOT(mae>2)").ast)).toBe(
      "coverage(80) >= 0.7 and not mae() > 2",
    );
    expect(printRule(parseRule("count(last 1 hours) > 0").ast)).toBe("count(last 1 hour) > 0");
    expect(printRule(parseRuleSyntax("a - (b - c) > -(-1)").ast)).toBe("a - (b - c) > --1");
    expect(printRule(parseRuleSyntax("(a > 1) == (b > 2)").ast)).toBe("(a > 1) == (b > 2)");
    expect(printRule({ kind: "output", name: "mae" })).toBe("outputs.mae");
    expect(printRule({ kind: "output", name: "output:0" })).toBe("outputs.`output:0`");
    expect(printRule({ kind: "input", name: "a`b" })).toBe("inputs.`a\\`b`");
  });
});

describe("properties", () => {
  const onlyRuleErrors = (text: string) => {
    try {
      parseRule(text);
    } catch (error) {
      expect(error).toBeInstanceOf(SkalaError);
      expect((error as SkalaError).code).toBe("RULE_INVALID");
      const found = (error as SkalaError).details?.problems as RuleProblem[];
      expect(found.length).toBeGreaterThan(0);
      for (const problem of found) {
        expect(problem.position).toBeGreaterThanOrEqual(0);
        expect(problem.position).toBeLessThanOrEqual(Math.max(text.length, RULE_LIMITS.maxLength));
        expect(typeof problem.message).toBe("string");
      }
    }
  };

  it("random strings parse or fail with RULE_INVALID", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 200 }), onlyRuleErrors), { numRuns: 500 });
  });

  it("random byte strings (as latin-1 text) parse or fail with RULE_INVALID", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) =>
        onlyRuleErrors(Buffer.from(bytes).toString("latin1")),
      ),
      { numRuns: 500 },
    );
  });

  it("random token soups parse or fail with RULE_INVALID", () => {
    const token = fc.oneof(
      fc.constantFrom(
        ...[
          "forecast",
          "inputs.x",
          "inputs.",
          "reference.mae",
          "outputs.`a b`",
          "`",
          "abs_error",
          "mae",
          "coverage_80",
        ],
        ...[
          "mean",
          "quantile",
          "count",
          "share",
          "all",
          "coverage",
          "abs",
          "foo",
          "last",
          "8",
          "0.99",
          "1e999",
        ],
        ...[
          "periods",
          "predictions",
          "hour",
          "days",
          "apples",
          "and",
          "OR",
          "not",
          "true",
          "false",
          "(",
          ")",
        ],
        ...[",", ".", "<", "<=", ">", ">=", "==", "!=", "=", "!", "+", "-", "*", "/", "1.2.3", "#", "\\"],
      ),
      fc.string({ maxLength: 3 }),
    );
    const soup = fc
      .tuple(fc.array(token, { maxLength: 30 }), fc.constantFrom(" ", "", "\n"))
      .map(([tokens, separator]) => tokens.join(separator));
    fc.assert(fc.property(soup, onlyRuleErrors), { numRuns: 2000 });
  });

  it("printing a syntax tree and parsing it back gives the same tree", () => {
    fc.assert(
      fc.property(syntaxArbitrary, (ast) => {
        expect(parseRuleSyntax(printRule(ast)).ast).toEqual(ast);
      }),
      { numRuns: 1000 },
    );
  });

  it("printing a checked rule and parsing it back gives the same rule", () => {
    fc.assert(
      fc.property(typedRuleArbitrary, (ast) => {
        const text = printRule(ast);
        fc.pre(text.length <= RULE_LIMITS.maxLength);
        const rule = parseRule(text);
        expect(rule.ast).toEqual(ast);
        expect(parseRule(printRule(rule.ast)).ast).toEqual(rule.ast);
      }),
      { numRuns: 500 },
    );
  });
});
