import { Kind, type TObject, type TSchema, type TUnion } from "@sinclair/typebox";
import { type TypeCheck, TypeCompiler } from "@sinclair/typebox/compiler";
import { type ValueError, ValueErrorType } from "@sinclair/typebox/errors";
import type { ValidationIssue } from "../core/index.js";
import { escapePointer } from "./spec-reader.js";

/**
 * A TypeBox schema's errors as messages a person can act on: what would be right (the range, the allowed
 * values, the nearest known field), worded from the schema's own annotations (`title` names a value,
 * `description` explains a pattern or what a list or object holds). A union picks the branch the value meant
 * (by JSON type, then by a discriminating literal such as `method`) instead of listing every branch's errors.
 */
export class SchemaIssues {
  private readonly check: TypeCheck<TSchema>;

  /** Compiles the schema now (a few milliseconds), so that no request pays for it. */
  constructor(schema: TSchema) {
    this.check = TypeCompiler.Compile(schema);
  }

  /** Every problem (up to about `limit`), in the schema's order; none when the value is valid. */
  of(value: unknown, limit: number): ValidationIssue[] {
    if (this.check.Check(value)) return [];
    return issuesOf(this.check.Errors(value), limit);
  }
}

function issuesOf(errors: Iterable<ValueError>, limit = Number.POSITIVE_INFINITY): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const error of errors) {
    issues.push(...issuesOfError(error));
    if (issues.length >= limit) break;
  }
  // A missing field is reported once, as missing, not also as "must be a string".
  const missing = new Set(issues.filter((i) => i.message.startsWith(IS_REQUIRED)).map((i) => i.path));
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.path}\u0000${issue.message}`;
    if (seen.has(key) || (missing.has(issue.path) && !issue.message.startsWith(IS_REQUIRED))) return false;
    seen.add(key);
    return true;
  });
}

const IS_REQUIRED = "is required";

function issuesOfError(error: ValueError): ValidationIssue[] {
  const { schema, path, value } = error;
  switch (error.type) {
    case ValueErrorType.Union:
      return unionIssues(error);
    case ValueErrorType.ObjectRequiredProperty:
      return [{ path, message: requiredMessage(schema) }];
    case ValueErrorType.ObjectAdditionalProperties:
      return [{ path, message: unknownFieldMessage(schema as TObject, lastSegment(path)) }];
    case ValueErrorType.StringPattern:
      return [
        {
          path,
          message: schema.title
            ? `${describe(value)} is not a valid ${schema.title} (${schema.description})`
            : `${describe(value)} does not match ${schema.pattern}`,
        },
      ];
    case ValueErrorType.StringMinLength:
      return [
        {
          path,
          message:
            schema.minLength === 1
              ? "must not be empty"
              : `must have at least ${schema.minLength} characters`,
        },
      ];
    case ValueErrorType.StringMaxLength:
      return [{ path, message: `must have at most ${schema.maxLength} characters` }];
    default:
      return [{ path, message: expectation(schema, value, path) ?? error.message }];
  }
}

/**
 * What a value of this schema must be, for type and range errors. A spec that is not a mapping at all is
 * some other file (`/etc/passwd` reads as one long YAML string): its content is never quoted, only its kind.
 */
function expectation(schema: TSchema, value: unknown, path: string): string | undefined {
  const got = `, got ${path === "" ? describeKind(value) : describe(value)}`;
  switch (schema[Kind]) {
    case "Integer":
      return `must be an integer ${range(schema, "from")}${got}`;
    case "Number":
      return `must be a number ${range(schema, "in")}${got}`;
    case "Boolean":
      return `must be true or false${got}`;
    case "String":
      return `must be a string${got}`;
    case "Object":
      return `must be an object${got}`;
    case "Literal":
      return `must be ${JSON.stringify(schema.const)}${got}`;
    case "Array": {
      const items = schema.title ?? "items";
      if (schema.minItems !== undefined && schema.maxItems !== undefined) {
        return `must be a list of ${schema.minItems} to ${schema.maxItems} ${items}${got}`;
      }
      return `must be a list of ${items}${got}`;
    }
    default:
      return undefined;
  }
}

/** `from 1 to 1000`, `in (0, 1]`, `strictly between 0 and 1`. */
function range(schema: TSchema, closedWord: "from" | "in"): string {
  const low = schema.exclusiveMinimum ?? schema.minimum;
  const high = schema.exclusiveMaximum ?? schema.maximum;
  if (low === undefined || high === undefined) {
    if (low !== undefined) return `${schema.exclusiveMinimum !== undefined ? "above" : "of at least"} ${low}`;
    if (high !== undefined)
      return `${schema.exclusiveMaximum !== undefined ? "below" : "of at most"} ${high}`;
    return "";
  }
  const openLow = schema.exclusiveMinimum !== undefined;
  const openHigh = schema.exclusiveMaximum !== undefined;
  if (openLow && openHigh) return `strictly between ${low} and ${high}`;
  if (!openLow && !openHigh && closedWord === "from") return `from ${low} to ${high}`;
  return `in ${openLow ? "(" : "["}${low}, ${high}${openHigh ? ")" : "]"}`;
}

function requiredMessage(schema: TSchema): string {
  const values = literalValues(schema);
  if (values) return `${IS_REQUIRED}; one of ${values.join(", ")}`;
  const kind = schema[Kind];
  if ((kind === "Object" || kind === "Array") && schema.description) {
    return `${IS_REQUIRED}: ${schema.description}`;
  }
  return IS_REQUIRED;
}

function unknownFieldMessage(schema: TObject, key: string): string {
  const known = Object.keys(schema.properties);
  const near = nearest(key, known);
  const hint = near ? `; did you mean "${near}"?` : "";
  // A titled object is a named set of fields ("ets parameters"), so the message names that set.
  if (schema.title) {
    if (known.length === 0) return `there are no ${schema.title}`;
    return `not one of the ${schema.title}${hint || ` (${known.join(", ")})`}`;
  }
  return `unknown field${hint || `; expected ${known.join(", ")}`}`;
}

function enumMessage(title: string, values: readonly string[], value: unknown): string {
  const expected = `expected one of ${values.join(", ")}`;
  if (typeof value !== "string") return `${title} must be a string, got ${describe(value)}; ${expected}`;
  const near = nearest(value, values);
  return `unknown ${title} ${describe(value)}; ${expected}${near ? ` (did you mean "${near}"?)` : ""}`;
}

/** The string values of a union of string literals (an enum), or undefined for any other schema. */
function literalValues(schema: TSchema): string[] | undefined {
  if (schema[Kind] !== "Union") return undefined;
  const variants = (schema as TUnion).anyOf;
  if (!variants.every((v) => v[Kind] === "Literal" && typeof v.const === "string")) return undefined;
  return variants.map((v) => v.const as string);
}

function unionIssues(error: ValueError): ValidationIssue[] {
  const union = error.schema as TUnion;
  const { path, value } = error;
  const values = literalValues(union);
  if (values) return [{ path, message: enumMessage(union.title ?? "value", values, value) }];
  const type = jsonType(value);
  const branches = union.anyOf.flatMap((variant, i) => (jsonTypes(variant).has(type) ? [i] : []));
  const branchIssues = (i: number) => issuesOf(error.errors[i] ?? []);
  if (branches.length === 1) return branchIssues(branches[0] as number);
  if (type === "object" && branches.length > 1) {
    const objects = branches.map((i) => union.anyOf[i] as TObject);
    const key = discriminator(objects);
    if (key !== undefined) {
      const tag = (value as Record<string, unknown>)[key];
      const match = branches.find((i) => (union.anyOf[i] as TObject).properties[key]?.const === tag);
      if (match !== undefined) return branchIssues(match);
      // No branch has this tag: say so, plus what every branch finds wrong alike (a bad distribution, an
      // unknown field), since those do not depend on which branch was meant.
      const tags = objects.map((o) => o.properties[key]?.const as string);
      const at = `${path}/${escapePointer(key)}`;
      const own =
        tag === undefined
          ? { path: at, message: `${IS_REQUIRED}; one of ${tags.join(", ")}` }
          : { path: at, message: enumMessage(key, tags, tag) };
      const common = branches
        .map(branchIssues)
        .reduce((a, b) => a.filter((x) => b.some((y) => y.path === x.path && y.message === x.message)))
        .filter((x) => x.path !== at && !x.path.startsWith(`${at}/`));
      return [own, ...common];
    }
  }
  return [
    { path, message: `must be ${union.description ?? "one of the allowed forms"}, got ${describe(value)}` },
  ];
}

/** A property that is a literal in every object, with a different value in each. */
function discriminator(objects: TObject[]): string | undefined {
  const first = objects[0];
  if (!first) return undefined;
  return Object.keys(first.properties).find((key) => {
    const tags = objects.map((o) => o.properties[key]);
    return (
      tags.every((t) => t?.[Kind] === "Literal") && new Set(tags.map((t) => t?.const)).size === objects.length
    );
  });
}

type JsonType = "null" | "boolean" | "number" | "string" | "array" | "object";

function jsonType(value: unknown): JsonType {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  const type = typeof value;
  return type === "boolean" || type === "number" || type === "string" ? type : "object";
}

const ALL_TYPES: ReadonlySet<JsonType> = new Set(["null", "boolean", "number", "string", "array", "object"]);

function jsonTypes(schema: TSchema): ReadonlySet<JsonType> {
  switch (schema[Kind]) {
    case "String":
    case "TemplateLiteral":
      return new Set(["string"]);
    case "Literal":
      return new Set([jsonType(schema.const)]);
    case "Number":
    case "Integer":
      return new Set(["number"]);
    case "Boolean":
      return new Set(["boolean"]);
    case "Null":
      return new Set(["null"]);
    case "Object":
    case "Record":
      return new Set(["object"]);
    case "Array":
    case "Tuple":
      return new Set(["array"]);
    case "Union":
      return new Set((schema as TUnion).anyOf.flatMap((v) => [...jsonTypes(v)]));
    default:
      return ALL_TYPES;
  }
}

function lastSegment(path: string): string {
  return (path.split("/").pop() ?? "").replaceAll("~1", "/").replaceAll("~0", "~");
}

/** A value as a message shows it: strings quoted and cut at 40 characters, lists by length. */
export function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "object") return "an object";
  return String(value);
}

/** A value's kind, without any of its content: `a string`, `a number`, `a list of 3`. */
export function describeKind(value: unknown): string {
  if (value === null || Array.isArray(value)) return describe(value);
  switch (typeof value) {
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "boolean":
      return "true or false";
    case "object":
      return "an object";
    default:
      return "nothing";
  }
}

/** The known word within edit distance 2, to turn `horizion` into a hint rather than a puzzle. */
export function nearest(word: string, known: readonly string[]): string | undefined {
  if (word.length > 64) return undefined;
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length] as number;
}
