import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  evaluateRule,
  InMemoryRuleData,
  kleeneAnd,
  kleeneNot,
  kleeneOr,
  parseRule,
  printRule,
  type RuleData,
  type RuleExpression,
  type RuleObservation,
  type RuleOptions,
  type RuleOutcome,
} from "./index.js";
import { typedRuleArbitrary } from "./test-support/rule-arbitraries.js";

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const MINUTE = 60_000;

function data(observations: RuleObservation[], references: Record<string, number> = {}): InMemoryRuleData {
  return new InMemoryRuleData({ observations, references, now: NOW });
}

async function outcome(text: string, source: RuleData, options?: RuleOptions): Promise<RuleOutcome> {
  return (await evaluateRule(parseRule(text, options), source)).outcome;
}

/** Monthly forecasts of one part: period i has an 80 % interval [8, 12]; actuals given by `actuals`. */
function forecastMonths(actuals: Array<number | undefined>): RuleObservation[] {
  return actuals.map((actual, i) => ({
    id: `m${i}`,
    at: NOW - (actuals.length - i) * 30 * 24 * 60 * MINUTE,
    period: 24_000 + i,
    prediction: 10,
    outputs: { forecast: 10, lower_80: 8, upper_80: 12 },
    ...(actual === undefined ? {} : { actual }),
  }));
}

describe("evaluateRule: the issue's examples", () => {
  it("forecast >= 0 holds for every prediction in the default window", async () => {
    const rows = (values: number[]) =>
      values.map((forecast, i) => ({ id: `p${i}`, at: NOW - i * MINUTE, outputs: { forecast } }));
    const options: RuleOptions = { defaultWindow: { kind: "window", size: 4, unit: "predictions" } };
    expect(await outcome("forecast >= 0", data(rows([0, 1, 2, 3])), options)).toBe("satisfied");
    const violated = await evaluateRule(parseRule("forecast >= 0", options), data(rows([1, -2, 3, -4, -5])));
    expect(violated.outcome).toBe("violated");
    // Predictions are newest last: p4 (oldest) falls outside the last 4.
    expect(violated.windows).toEqual([
      {
        expression: "all(forecast >= 0, last 4 predictions)",
        window: { kind: "window", size: 4, unit: "predictions" },
        actualsOnly: false,
        rows: 4,
        observations: 4,
        complete: true,
        value: false,
        violations: { count: 2, ids: ["p3", "p1"] },
      },
    ]);
    // Too few predictions: not known to hold yet, but a negative one is a violation already.
    const short = await evaluateRule(parseRule("forecast >= 0", options), data(rows([1, 2])));
    expect(short.outcome).toBe("inconclusive");
    expect(short.reasons).toEqual([
      "all(forecast >= 0, last 4 predictions): the window holds 2 of 4 observations",
    ]);
    expect(await outcome("forecast >= 0", data(rows([1, -2])), options)).toBe("violated");
  });

  it("coverage of the 80 % interval over the last 8 periods >= 0.7", async () => {
    const rule = "coverage(80, last 8 periods) >= 0.7";
    // 6 of 8 inside [8, 12]: 0.75.
    const six = forecastMonths([20, 10, 9, 11, 12, 8, 30, 10]);
    const result = await evaluateRule(parseRule(rule), data(six));
    expect(result.outcome).toBe("satisfied");
    expect(result.windows[0]).toMatchObject({
      expression: "coverage(80, last 8 periods)",
      value: 0.75,
      complete: true,
    });
    // 5 of 8: 0.625.
    expect(await outcome(rule, data(forecastMonths([20, 10, 9, 11, 12, 7, 30, 10])))).toBe("violated");
    // The same with the shorthand and the window as the default.
    const options: RuleOptions = { defaultWindow: { kind: "window", size: 8, unit: "periods" } };
    expect(await outcome("coverage_80 >= 0.7", data(six), options)).toBe("satisfied");
    // Only 5 periods have actuals: inconclusive, with the reason.
    const five = await evaluateRule(
      parseRule(rule),
      data(forecastMonths([10, 10, 10, 10, 10, undefined, undefined])),
    );
    expect(five.outcome).toBe("inconclusive");
    expect(five.reasons).toEqual([
      "coverage(80, last 8 periods): the window holds 5 of 8 periods with actuals",
    ]);
    expect(five.windows[0]).toMatchObject({ rows: 5, observations: 5, complete: false, value: null });
  });

  it("counts the newest periods that have actuals, skipping those still waiting for them", async () => {
    // Ten months: the last two without actuals yet; of the 8 newest with actuals, 6 are inside.
    const months = forecastMonths([30, 30, 10, 10, 10, 10, 10, 10, 30, 30, undefined, undefined]);
    const result = await evaluateRule(parseRule("coverage(80, last 8 periods) >= 0.7"), data(months));
    expect(result.windows[0]).toMatchObject({ rows: 8, value: 0.75 });
    expect(result.outcome).toBe("satisfied");
  });
});

describe("evaluateRule: functions and windows", () => {
  const errors = (absErrors: number[]) =>
    absErrors.map((e, i) => ({
      id: `e${i}`,
      at: NOW - (absErrors.length - i) * MINUTE,
      prediction: 100 + (i % 2 === 0 ? e : -e),
      actual: 100,
      latencyMs: 10 * (i + 1),
    }));

  it("mean(abs_error, …) against a reference, missing reference inconclusive", async () => {
    const rule = "mean(abs_error, last 4 predictions) <= 1.5 * reference.mae";
    expect(await outcome(rule, data(errors([1, 2, 1, 2]), { mae: 1 }))).toBe("satisfied"); // 1.5 <= 1.5
    expect(await outcome(rule, data(errors([1, 2, 2, 2]), { mae: 1 }))).toBe("violated"); // 1.75
    const missing = await evaluateRule(parseRule(rule), data(errors([1, 2, 1, 2])));
    expect(missing.outcome).toBe("inconclusive");
    expect(missing.reasons).toEqual(["reference.mae is missing"]);
    expect(missing.references).toEqual({ mae: null });
    expect(missing.windows[0]?.value).toBe(1.5);
  });

  it("computes mae, rmse, bias, mase and accuracy", async () => {
    const source = data(errors([1, 3, 1, 3]), { scale: 2 });
    const value = async (text: string) =>
      (await evaluateRule(parseRule(`${text} > -1000`), source)).windows[0]?.value;
    expect(await value("mae(last 4 predictions)")).toBe(2);
    expect(await value("rmse(last 4 predictions)")).toBeCloseTo(Math.sqrt(5), 12);
    expect(await value("bias(last 4 predictions)")).toBe(-1); // +1, -3, +1, -3
    expect(await value("mase(last 4 predictions)")).toBe(1);
    expect(await value("mean(error, last 4 predictions)")).toBe(-1);
    expect(await value("sum(squared_error, last 4 predictions)")).toBe(20);
    expect(await value("stddev(abs_error, last 4 predictions)")).toBeCloseTo(Math.sqrt(4 / 3), 12);
    const classes = data(
      [0, 1, 2, 1].map((label, i) => ({
        id: `c${i}`,
        at: NOW - i,
        prediction: label,
        actual: i === 3 ? 2 : label,
      })),
    );
    const accuracy = await evaluateRule(parseRule("accuracy(last 4 predictions) >= 0.75"), classes);
    expect(accuracy.outcome).toBe("satisfied");
    expect(accuracy.windows[0]?.value).toBe(0.75);
    const noScale = await evaluateRule(parseRule("mase(last 4 predictions) < 1"), data(errors([1, 1, 1, 1])));
    expect(noScale.outcome).toBe("inconclusive");
    expect(noScale.reasons).toContain("reference.scale is missing (the MASE denominator)");
  });

  it("quantile is R's type 7", async () => {
    const rows = Array.from({ length: 100 }, (_, i) => ({ id: `q${i}`, at: NOW - i, latencyMs: i + 1 }));
    const result = await evaluateRule(
      parseRule("quantile(latency_ms, 0.99, last 100 predictions) < 250"),
      data(rows),
    );
    expect(result.windows[0]?.value).toBeCloseTo(99.01, 10);
    expect(result.outcome).toBe("satisfied");
    const median = await evaluateRule(
      parseRule("quantile(latency_ms, 0.5, last 100 predictions) < 50"),
      data(rows),
    );
    expect(median.windows[0]?.value).toBe(50.5);
    expect(median.outcome).toBe("violated");
  });

  it("time windows hold the predictions of that span, and are inconclusive when empty", async () => {
    const rows = [
      { id: "old", at: NOW - 61 * MINUTE, latencyMs: 900 },
      { id: "a", at: NOW - 59 * MINUTE, latencyMs: 120 },
      { id: "b", at: NOW - MINUTE, latencyMs: 180 },
    ];
    const result = await evaluateRule(parseRule("max(latency_ms, last 1 hour) < 200"), data(rows));
    expect(result.outcome).toBe("satisfied");
    expect(result.windows[0]).toMatchObject({ rows: 2, value: 180, complete: true });
    expect(await outcome("max(latency_ms, last 2 hours) < 200", data(rows))).toBe("violated");
    const empty = await evaluateRule(
      parseRule("max(latency_ms, last 30 minutes) < 200"),
      data(rows.slice(0, 2)),
    );
    expect(empty.outcome).toBe("inconclusive");
    expect(empty.reasons).toEqual([
      "max(latency_ms, last 30 minutes): no observations in the last 30 minutes",
    ]);
    // A count needs no observations: an empty span counts zero.
    expect(await outcome("count(last 30 minutes) == 0", data(rows.slice(0, 2)))).toBe("satisfied");
  });

  it("share and count of a condition", async () => {
    const rows = Array.from({ length: 200 }, (_, i) => ({
      id: `s${i}`,
      at: NOW - i * MINUTE,
      outputs: { forecast: i === 5 || i === 7 ? -1 : 3 },
    }));
    const share = await evaluateRule(parseRule("share(forecast < 0, last 30 days) < 0.01"), data(rows));
    expect(share.windows[0]?.value).toBe(0.01);
    expect(share.outcome).toBe("violated");
    expect(await outcome("share(forecast < 0, last 30 days) <= 0.01", data(rows))).toBe("satisfied");
    expect(await outcome("count(forecast < 0, last 1 day) == 2", data(rows))).toBe("satisfied");
    expect(await outcome("count(forecast < 0, last 5 minutes) == 0", data(rows))).toBe("satisfied");
    expect(await outcome("any(forecast < 0, last 6 minutes)", data(rows))).toBe("satisfied");
  });

  it("all and any decide early under Kleene logic, even in a short window", async () => {
    const rows = [
      { id: "a", at: NOW - 2, outputs: { y: 1 } },
      { id: "b", at: NOW - 1, outputs: { y: -1 } },
    ];
    expect(await outcome("all(y > 0, last 10 predictions)", data(rows))).toBe("violated");
    expect(await outcome("any(y > 0, last 10 predictions)", data(rows))).toBe("satisfied");
    expect(await outcome("any(y > 5, last 10 predictions)", data(rows))).toBe("inconclusive");
    expect(await outcome("any(y > 5, last 2 predictions)", data(rows))).toBe("violated");
    expect(await outcome("all(y > -5, last 2 predictions)", data(rows))).toBe("satisfied");
  });

  it("is inconclusive on NaN and missing values", async () => {
    const rows = [
      { id: "a", at: NOW - 3, inputs: { x: 1 } },
      { id: "b", at: NOW - 2, inputs: { x: Number.NaN } },
      { id: "c", at: NOW - 1, inputs: { x: 3 } },
    ];
    const nan = await evaluateRule(parseRule("mean(inputs.x, last 3 predictions) < 10"), data(rows));
    expect(nan.outcome).toBe("inconclusive");
    expect(nan.windows[0]).toMatchObject({ rows: 3, observations: 2, complete: false });
    expect(await outcome("mean(inputs.x, last 1 prediction) < 10", data(rows))).toBe("satisfied");
    const noColumn = await evaluateRule(parseRule("max(forecast, last 1 hour) < 10"), data(rows));
    expect(noColumn.outcome).toBe("inconclusive");
    expect(noColumn.reasons).toContain("no values for outputs.forecast");
    const perPrediction = await evaluateRule(
      parseRule("inputs.x > 0", { defaultWindow: { kind: "window", size: 3, unit: "predictions" } }),
      data(rows),
    );
    expect(perPrediction.outcome).toBe("inconclusive");
    expect(perPrediction.reasons).toEqual([
      "all(inputs.x > 0, last 3 predictions): the window holds 2 of 3 observations",
      "all(inputs.x > 0, last 3 predictions): 1 of 3 predictions have no known value",
    ]);
    expect(await outcome("1 / 0 > 1", data(rows))).toBe("inconclusive");
    // Names of Object.prototype are no values of the data.
    for (const name of ["__proto__", "constructor", "toString"]) {
      const inherited = await evaluateRule(parseRule(`max(inputs.${name}, last 1 hour) > 0`), data(rows));
      expect(inherited.outcome).toBe("inconclusive");
      expect(inherited.reasons).toContain(`no values for inputs.${name}`);
    }
    expect(await outcome("reference.x > 0", data(rows, { x: Number.NaN }))).toBe("inconclusive");
  });

  it("reads each window once and broadcasts scalars into per-prediction conditions", async () => {
    const reads: string[] = [];
    const inner = data(errors([1, 1, 1, 10]), { mae: 1 });
    const counting: RuleData = {
      rows: (request) => {
        reads.push(`${request.window.size} ${request.window.unit} ${request.columns.join(",")}`);
        return inner.rows(request);
      },
      reference: (name) => Promise.resolve(inner.reference(name)),
    };
    const rule = parseRule(
      "share(abs_error > 3 * mae(last 4 predictions), last 4 predictions) <= 0.25 and mae(last 4 predictions) < 5",
    );
    const result = await evaluateRule(rule, counting);
    expect(reads).toEqual(["4 predictions actual,prediction"]);
    expect(result.outcome).toBe("satisfied"); // mae 3.25; one of four > 9.75
    expect(result.windows.map((w) => [w.expression, w.value])).toEqual([
      ["mae(last 4 predictions)", 3.25],
      ["share(abs_error > 3 * mae(last 4 predictions), last 4 predictions)", 0.25],
      ["mae(last 4 predictions)", 3.25],
    ]);
  });
});

describe("three-valued logic", () => {
  const F = 0 as const;
  const T = 1 as const;
  const U = 2 as const;

  it("follows Kleene's truth tables", () => {
    const and = [
      [F, F, F],
      [F, T, U],
      [F, U, U],
    ];
    const or = [
      [F, T, U],
      [T, T, T],
      [U, T, U],
    ];
    for (const a of [F, T, U]) {
      expect(kleeneNot(a)).toBe([T, F, U][a]);
      for (const b of [F, T, U]) {
        expect(kleeneAnd(a, b), `${a} and ${b}`).toBe(and[a]?.[b]);
        expect(kleeneOr(a, b), `${a} or ${b}`).toBe(or[a]?.[b]);
      }
    }
  });

  // Atoms with a known outcome: true, false, and a comparison with a reference the profile lacks.
  const atoms: Record<RuleOutcome, string> = {
    satisfied: "true",
    violated: "false",
    inconclusive: "reference.missing > 0",
  };
  type Formula =
    | { op: "atom"; value: RuleOutcome }
    | { op: "not"; a: Formula }
    | { op: "and" | "or"; a: Formula; b: Formula };
  const formula: fc.Arbitrary<Formula> = fc.letrec<{ f: Formula }>((tie) => ({
    f: fc.oneof(
      { depthSize: "small" },
      fc
        .constantFrom<RuleOutcome>("satisfied", "violated", "inconclusive")
        .map((value): Formula => ({ op: "atom", value })),
      tie("f").map((a): Formula => ({ op: "not", a })),
      fc
        .tuple(fc.constantFrom("and" as const, "or" as const), tie("f"), tie("f"))
        .map(([op, a, b]): Formula => ({ op, a, b })),
    ),
  })).f;
  // Kleene's logic as min/max over false < unknown < true, independent of the implementation.
  const rank: Record<RuleOutcome, number> = { violated: 0, inconclusive: 1, satisfied: 2 };
  const byRank: RuleOutcome[] = ["violated", "inconclusive", "satisfied"];
  const expected = (f: Formula): RuleOutcome => {
    switch (f.op) {
      case "atom":
        return f.value;
      case "not":
        return byRank[2 - rank[expected(f.a)]] as RuleOutcome;
      case "and":
        return byRank[Math.min(rank[expected(f.a)], rank[expected(f.b)])] as RuleOutcome;
      case "or":
        return byRank[Math.max(rank[expected(f.a)], rank[expected(f.b)])] as RuleOutcome;
    }
  };
  const text = (f: Formula): string =>
    f.op === "atom"
      ? `(${atoms[f.value]})`
      : f.op === "not"
        ? `not (${text(f.a)})`
        : `(${text(f.a)}) ${f.op} (${text(f.b)})`;

  it("evaluates and, or, not over satisfied, violated and inconclusive as Kleene's logic", async () => {
    const empty = data([]);
    await fc.assert(
      fc.asyncProperty(formula, async (f) => {
        fc.pre(text(f).length < 4000);
        expect(await outcome(text(f), empty)).toBe(expected(f));
      }),
      { numRuns: 300 },
    );
  });

  it("keeps De Morgan's laws on per-prediction conditions with unknown values", async () => {
    const rows = [-1, 0, 1, Number.NaN].map((x, i) => ({ id: `r${i}`, at: NOW - i, inputs: { x } }));
    const options: RuleOptions = { defaultWindow: { kind: "window", size: 4, unit: "predictions" } };
    for (const [a, b] of [
      ["inputs.x > 0", "inputs.x < 1"],
      ["inputs.x >= 0", "inputs.x == 0"],
    ]) {
      const left = await outcome(`not (${a} and ${b})`, data(rows), options);
      const right = await outcome(`not ${a} or not ${b}`, data(rows), options);
      expect(left).toBe(right);
    }
  });
});

describe("properties of evaluation", () => {
  it("any checked rule evaluates to one of the three outcomes on random data, without throwing", async () => {
    const observation = fc.record({
      id: fc.uuid(),
      at: fc.integer({ min: NOW - 40 * 24 * 60 * MINUTE, max: NOW }),
      period: fc.integer({ min: 0, max: 30 }),
      prediction: fc.oneof(fc.double({ noDefaultInfinity: true }), fc.constant(Number.NaN)),
      actual: fc.option(fc.double({ min: -100, max: 100 }), { nil: undefined }),
      latencyMs: fc.double({ min: 0, max: 1000, noNaN: true }),
      outputs: fc.record({ forecast: fc.double(), lower_80: fc.double(), probabilities: fc.double() }),
      inputs: fc.record({ x: fc.double(), temperature: fc.double() }),
    });
    await fc.assert(
      fc.asyncProperty(
        typedRuleArbitrary,
        fc.array(observation, { maxLength: 40 }),
        fc.dictionary(fc.stringMatching(/^[a-z]{1,3}$/), fc.double()),
        async (ast: RuleExpression, observations, references) => {
          const text = printRule(ast);
          fc.pre(text.length <= 4096);
          const source = new InMemoryRuleData({
            observations: observations.map(({ actual, ...rest }) =>
              actual === undefined ? rest : { ...rest, actual },
            ),
            references,
            now: NOW,
          });
          const result = await evaluateRule(parseRule(text), source);
          expect(["satisfied", "violated", "inconclusive"]).toContain(result.outcome);
          if (result.outcome !== "inconclusive") expect(result.reasons).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
