import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SkalaError } from "../../core/index.js";
import { FILTER_LIMITS, type FilterExpression, parseFilter, printFilter } from "./index.js";
import { anyFilterArbitrary } from "./test-support/filter-arbitraries.js";

const metric = (key: string, op: "=" | "!=" | "<" | "<=" | ">" | ">=", value: number): FilterExpression => ({
  kind: "compare",
  field: { kind: "metric", key },
  op,
  value,
});
const tag = (key: string, value: string): FilterExpression => ({
  kind: "compare",
  field: { kind: "tag", key },
  op: "=",
  value,
});

function filterError(text: string): SkalaError {
  try {
    parseFilter(text);
  } catch (error) {
    if (error instanceof SkalaError && error.code === "FILTER_INVALID") return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

describe("parseFilter", () => {
  it("parses the documented example", () => {
    expect(parseFilter('metrics.mase < 0.9 and tags.segment = "A12"')).toEqual({
      kind: "and",
      operands: [metric("mase", "<", 0.9), tag("segment", "A12")],
    });
  });

  it("binds and tighter than or", () => {
    expect(parseFilter('tags.a = "1" or tags.b = "2" and tags.c = "3"')).toEqual({
      kind: "or",
      operands: [tag("a", "1"), { kind: "and", operands: [tag("b", "2"), tag("c", "3")] }],
    });
    expect(parseFilter('tags.a = "1" and tags.b = "2" or tags.c = "3"')).toEqual({
      kind: "or",
      operands: [{ kind: "and", operands: [tag("a", "1"), tag("b", "2")] }, tag("c", "3")],
    });
  });

  it("flattens chains and lets parentheses group", () => {
    expect(parseFilter('tags.a = "1" or tags.b = "2" or tags.c = "3"')).toEqual({
      kind: "or",
      operands: [tag("a", "1"), tag("b", "2"), tag("c", "3")],
    });
    expect(parseFilter('(tags.a = "1" or tags.b = "2") and tags.c = "3"')).toEqual({
      kind: "and",
      operands: [{ kind: "or", operands: [tag("a", "1"), tag("b", "2")] }, tag("c", "3")],
    });
    expect(parseFilter('((tags.a = "1"))')).toEqual(tag("a", "1"));
  });

  it("applies not to the nearest unary", () => {
    expect(parseFilter('not tags.a = "1" and tags.b = "2"')).toEqual({
      kind: "and",
      operands: [{ kind: "not", operand: tag("a", "1") }, tag("b", "2")],
    });
    expect(parseFilter('not (tags.a = "1" or tags.b = "2")')).toEqual({
      kind: "not",
      operand: { kind: "or", operands: [tag("a", "1"), tag("b", "2")] },
    });
    expect(parseFilter("not not metrics.x = 1")).toEqual({
      kind: "not",
      operand: { kind: "not", operand: metric("x", "=", 1) },
    });
  });

  it("reads keywords in any case", () => {
    expect(parseFilter('NOT tags.a = "1" AnD tags.b In ("2") oR model LIKE "x%"')).toEqual({
      kind: "or",
      operands: [
        {
          kind: "and",
          operands: [
            { kind: "not", operand: tag("a", "1") },
            { kind: "in", field: { kind: "tag", key: "b" }, values: ["2"] },
          ],
        },
        { kind: "like", field: { kind: "attribute", name: "model" }, pattern: "x%" },
      ],
    });
  });

  it("parses in-lists of numbers and strings", () => {
    expect(parseFilter("version in (1, 2,3)")).toEqual({
      kind: "in",
      field: { kind: "attribute", name: "version" },
      values: [1, 2, 3],
    });
    expect(parseFilter("status in ('ready', \"archived\")")).toEqual({
      kind: "in",
      field: { kind: "attribute", name: "status" },
      values: ["ready", "archived"],
    });
  });

  it("parses every operator and attribute", () => {
    for (const op of ["=", "!=", "<", "<=", ">", ">="] as const) {
      expect(parseFilter(`metrics.rmse${op}-1.5e3`)).toEqual(metric("rmse", op, -1500));
    }
    for (const name of ["runtime", "status", "created_at", "model", "fleet", "run_id"] as const) {
      expect(parseFilter(`${name} = "x"`)).toEqual({
        kind: "compare",
        field: { kind: "attribute", name },
        op: "=",
        value: "x",
      });
    }
    expect(parseFilter("params.lr >= '0.1'")).toEqual({
      kind: "compare",
      field: { kind: "param", key: "lr" },
      op: ">=",
      value: "0.1",
    });
  });

  it("reads numbers: negative, decimal, exponent", () => {
    const value = (text: string) => {
      const node = parseFilter(`metrics.m = ${text}`);
      return node.kind === "compare" ? node.value : undefined;
    };
    expect(value("42")).toBe(42);
    expect(value("-0.25")).toBe(-0.25);
    expect(value(".5")).toBe(0.5);
    expect(value("1.")).toBe(1);
    expect(value("1e3")).toBe(1000);
    expect(value("2.5E-2")).toBe(0.025);
    expect(value("1e+21")).toBe(1e21);
    expect(Object.is(value("-0"), 0)).toBe(true);
    expect(parseFilter("version = 1e2")).toMatchObject({ value: 100 });
  });

  it("reads keys with punctuation and quoted keys", () => {
    expect(parseFilter('tags.team/owner:v1.2-x_y = "a"')).toEqual(tag("team/owner:v1.2-x_y", "a"));
    expect(parseFilter('tags.`my key` = "a"')).toEqual(tag("my key", "a"));
    expect(parseFilter('tags.`back\\`tick\\\\` = "a"')).toEqual(tag("back`tick\\", "a"));
    expect(parseFilter("metrics.`a b`<1")).toEqual(metric("a b", "<", 1));
    expect(parseFilter('tags.and = "x"')).toEqual(tag("and", "x"));
  });

  it("reads strings with escapes in both quote styles", () => {
    expect(parseFilter(String.raw`tags.a = "say \"hi\"\n\t\\ \u00e9"`)).toEqual(tag("a", 'say "hi"\n\t\\ é'));
    expect(parseFilter(String.raw`tags.a = 'it\'s "fine"'`)).toEqual(tag("a", `it's "fine"`));
    expect(parseFilter(`tags.a = ""`)).toEqual(tag("a", ""));
    expect(parseFilter(`tags.a = "' or 1=1 --"`)).toEqual(tag("a", "' or 1=1 --"));
    expect(parseFilter(String.raw`model like "100\\%"`)).toEqual({
      kind: "like",
      field: { kind: "attribute", name: "model" },
      pattern: "100\\%",
    });
  });

  describe("errors", () => {
    const cases: Array<[text: string, position: number, message: string]> = [
      ["", 0, "unexpected end of filter at position 0: expected a field"],
      ["   ", 3, "unexpected end of filter at position 3: expected a field"],
      ['metrics.mase foo "x"', 13, 'unexpected "foo" at position 13: expected a comparison operator'],
      ["metrics.mase <", 14, "unexpected end of filter at position 14: expected a number"],
      [
        'metrics.mase < "0.9"',
        15,
        'unexpected string "0.9" at position 15: expected a number (metrics.mase is numeric)',
      ],
      [
        "tags.segment = A12",
        15,
        'unexpected "A12" at position 15: expected a quoted string (tags.segment is a string field)',
      ],
      ["tags.segment = 12", 15, 'unexpected number "12" at position 15: expected a quoted string'],
      ["version = 1.5", 10, "version must be compared with an integer, got 1.5 at position 10"],
      ["version = 3000000000", 10, "version must be compared with an integer"],
      [
        'metrics.mase like "a%"',
        13,
        '"like" needs a string field but metrics.mase is numeric at position 13',
      ],
      ['version like "1"', 8, '"like" needs a string field but version is numeric'],
      ["tags.a like 1", 12, 'unexpected number "1" at position 12: expected a quoted string'],
      ['owner = "x"', 0, 'unexpected "owner" at position 0: expected a field (metrics.<key>'],
      ['Model = "x"', 0, 'unexpected "Model" at position 0'],
      ['tags. = "x"', 5, 'missing key after "tags." at position 5'],
      ['tags. `k` = "x"', 5, 'missing key after "tags."'],
      ['tags.`` = "x"', 5, "empty key at position 5"],
      ['tags.`abc = "x"', 5, "unterminated key at position 5: expected a closing `"],
      ['tags.a = "abc', 9, 'unterminated string at position 9: expected a closing "'],
      ["tags.a = 'abc\\'", 9, "unterminated string at position 9"],
      ['tags.a = "a\\qb"', 11, 'unknown escape "\\q" at position 11'],
      ['tags.a = "\\u12"', 10, "malformed escape \\u at position 10: expected four hex digits"],
      ['tags.a = "1" and', 16, "unexpected end of filter at position 16: expected a field"],
      [
        'tags.a = "1" tags.b = "2"',
        13,
        'unexpected "tags.b" at position 13: expected "and", "or" or end of filter',
      ],
      ['(tags.a = "1"', 13, 'unexpected end of filter at position 13: expected "and", "or" or ")"'],
      [
        'tags.a = "1")',
        12,
        'unexpected ")" at position 12: expected "and", "or" or end of filter (unbalanced ")")',
      ],
      ["version in ()", 12, 'unexpected ")" at position 12: expected a number'],
      ["version in 1", 11, 'unexpected number "1" at position 11: expected "(" after "in"'],
      ["version in (1 2)", 14, 'unexpected number "2" at position 14: expected "," or ")"'],
      ["version in (1,)", 14, 'unexpected ")" at position 14: expected a number'],
      ["version ! 1", 8, 'unexpected character "!" at position 8: expected a comparison operator'],
      ["version == 1", 9, 'unexpected "=" at position 9: expected a number'],
      ["version = 1x", 10, 'malformed number "1x" at position 10'],
      ["version = 1.2.3", 10, 'malformed number "1.2.3" at position 10'],
      ["metrics.m = 1e999", 12, "number 1e999 is out of range at position 12"],
      ["version = +1", 10, 'unexpected character "+" at position 10: expected a number'],
      [
        "version = 1 # comment",
        12,
        'unexpected character "#" at position 12: expected "and", "or" or end of filter',
      ],
      ["# comment", 0, 'unexpected character "#" at position 0: expected a field'],
      ["tags.a = \u{1F600}", 9, 'unexpected character "\u{1F600}" at position 9: expected a quoted string'],
      ['tags.a = "x\\u0000"', 11, "NUL character in string at position 11"],
      ['tags.a = "x\0"', 11, "NUL character in string at position 11"],
      ['tags.`\0` = "x"', 6, "NUL character in key at position 6"],
      ['model like "abc\\\\"', 11, 'like pattern ends with a lone escape character "\\" at position 11'],
      ["and version = 1", 0, 'unexpected "and" at position 0: expected a field'],
      ["not", 3, "unexpected end of filter at position 3: expected a field"],
    ];
    it.each(cases)("rejects %j at %i", (text, position, message) => {
      const error = filterError(text);
      expect(error.details?.position).toBe(position);
      expect(error.message).toContain(message);
    });

    it("reports what was expected in details", () => {
      expect(filterError("metrics.mase ~ 1").details).toEqual({
        position: 13,
        expected: "a comparison operator (=, !=, <, <=, >, >=, in, like)",
      });
    });

    it("shows control characters in messages as escapes", () => {
      expect(filterError("version = 1 \u0007").message).toBe(
        'unexpected character "\\u0007" at position 12: expected "and", "or" or end of filter',
      );
    });

    it("reports the leftmost error", () => {
      expect(filterError('version < < "unterminated').details?.position).toBe(10);
    });
  });

  describe("limits", () => {
    it("rejects text longer than the limit", () => {
      const text = `tags.a = "${"x".repeat(FILTER_LIMITS.maxLength)}"`;
      const error = filterError(text);
      expect(error.details?.position).toBe(FILTER_LIMITS.maxLength);
      expect(error.message).toMatch(/limit of 4096/);
      expect(() => parseFilter(`tags.a = "${"x".repeat(FILTER_LIMITS.maxLength - 12)}"`)).not.toThrow();
    });

    it("rejects nesting deeper than the limit", () => {
      const nested = (depth: number) => `${"(".repeat(depth)}version = 1${")".repeat(depth)}`;
      expect(() => parseFilter(nested(FILTER_LIMITS.maxDepth))).not.toThrow();
      const error = filterError(nested(FILTER_LIMITS.maxDepth + 1));
      expect(error.details?.position).toBe(FILTER_LIMITS.maxDepth);
      expect(error.message).toMatch(/deeper than 32/);
      expect(filterError(`${"not ".repeat(33)}version = 1`).details?.position).toBe(128);
      // Far past the limit it is still an error, not a stack overflow.
      expect(filterError("(".repeat(4000)).message).toMatch(/deeper than 32/);
    });

    it("rejects more comparisons than the limit", () => {
      const chain = (count: number) => Array.from({ length: count }, (_, i) => `version = ${i}`).join(" or ");
      expect(() => parseFilter(chain(FILTER_LIMITS.maxComparisons))).not.toThrow();
      const text = chain(FILTER_LIMITS.maxComparisons + 1);
      const error = filterError(text);
      expect(error.details?.position).toBe(text.lastIndexOf("version"));
      expect(error.message).toMatch(/more than 64 comparisons/);
    });
  });

  describe("properties", () => {
    const onlyFilterErrors = (text: string) => {
      try {
        parseFilter(text);
      } catch (error) {
        expect(error).toBeInstanceOf(SkalaError);
        expect((error as SkalaError).code).toBe("FILTER_INVALID");
        const position = (error as SkalaError).details?.position;
        expect(typeof position).toBe("number");
        expect(position).toBeGreaterThanOrEqual(0);
        expect(position).toBeLessThanOrEqual(text.length);
      }
    };

    it("random strings parse or fail with FILTER_INVALID", () => {
      fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 200 }), onlyFilterErrors), {
        numRuns: 500,
      });
    });

    it("random token soups parse or fail with FILTER_INVALID", () => {
      const token = fc.oneof(
        fc.constantFrom(
          ...["metrics.mase", "tags.segment", "params.lr", "tags.`my key`", "tags.", "`", "version", "model"],
          ...[
            "fleet",
            "created_at",
            "and",
            "OR",
            "not",
            "in",
            "like",
            "(",
            ")",
            ",",
            "=",
            "!=",
            "<",
            "<=",
            ">",
          ],
          ...[
            ">=",
            "!",
            "1",
            "-2.5e3",
            "1e999",
            ".5",
            "1.2.3",
            '"A12"',
            "'it\\'s'",
            '"\\u00e9"',
            '"\\q"',
            '"',
            "'",
          ],
          ...["\\", "#", "is", "null", "--", ";", "' or 1=1 --"],
        ),
        fc.string({ maxLength: 4 }),
      );
      const soup = fc
        .tuple(fc.array(token, { maxLength: 30 }), fc.constantFrom(" ", "", "\n"))
        .map(([tokens, separator]) => tokens.join(separator));
      fc.assert(fc.property(soup, onlyFilterErrors), { numRuns: 1000 });
    });

    it("printing a valid AST and parsing it back gives the same AST", () => {
      fc.assert(
        fc.property(anyFilterArbitrary, (ast) => {
          expect(parseFilter(printFilter(ast))).toEqual(ast);
        }),
        { numRuns: 500 },
      );
    });
  });
});

describe("printFilter", () => {
  it("prints a normalised filter", () => {
    expect(printFilter(parseFilter("metrics.mase<0.9 AND tags.segment='A12' or not(model LIKE \"x\")"))).toBe(
      'metrics.mase < 0.9 and tags.segment = "A12" or not model like "x"',
    );
    expect(
      printFilter(parseFilter('(tags.a="1" or tags.b="2") and not (version in (1,2) and tags.`k k`="\\n")')),
    ).toBe('(tags.a = "1" or tags.b = "2") and not (version in (1, 2) and tags.`k k` = "\\n")');
  });
});
