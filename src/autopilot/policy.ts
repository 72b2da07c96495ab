import { Kind, type TSchema, type TUnion } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { type ValueError, ValueErrorType } from "@sinclair/typebox/errors";
import { Value } from "@sinclair/typebox/value";
import { parseDocument } from "yaml";
import { err, ok, type Result, SkalaError, type ValidationIssue } from "../core/index.js";
import {
  type ComparisonTest,
  type Decider,
  type HealthLevel,
  type LimitedAction,
  type PolicyDocument,
  PolicySchema,
  type RuleAction,
} from "./policy.schema.js";

/** A trigger, once validated: exactly one kind. */
export type Trigger =
  | { readonly kind: "check"; readonly names?: readonly string[]; readonly level?: HealthLevel }
  | { readonly kind: "schedule"; readonly everyMinutes: number }
  | { readonly kind: "new-data"; readonly minActuals: number };

export interface PolicyRule {
  readonly when: Trigger;
  readonly do: readonly RuleAction[];
}

export interface RateLimit {
  readonly max: number;
  readonly perHours: number;
}

/** A validated policy with its defaults filled in; what the engine reads. */
export interface Policy {
  readonly name: string;
  readonly project: string;
  readonly fleet?: string;
  readonly environment?: string;
  readonly rules: readonly PolicyRule[];
  readonly evaluate?: {
    readonly test: ComparisonTest;
    readonly alpha: number;
    readonly h?: number;
    readonly power?: number;
    readonly minEffect?: number;
    readonly minSamples: number;
  };
  readonly promote?: { readonly margin: number; readonly approval: Decider };
  readonly rollback?: {
    readonly probationHours: number;
    readonly degradation: number;
    readonly approval: Decider;
  };
  /** Per model; an action kind without a limit is unlimited. */
  readonly limits: Partial<Record<LimitedAction, RateLimit>>;
  readonly approval: { readonly environments: readonly string[]; readonly expiresAfterHours: number };
}

/** Bounds on policy text; a real policy has well under a hundred lines. */
export const POLICY_LIMITS = Object.freeze({ maxChars: 64 * 1024, maxAliases: 50, maxIssues: 100 });

const check = TypeCompiler.Compile(PolicySchema);

/** Policy text (YAML, or JSON which is YAML too) → a policy, or every problem with its path and line. */
export function parsePolicyText(text: string): Result<Policy, ValidationIssue[]> {
  if (text.length > POLICY_LIMITS.maxChars) {
    return err([
      { path: "", message: `must be at most ${POLICY_LIMITS.maxChars} characters, got ${text.length}` },
    ]);
  }
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return err(
      doc.errors.slice(0, POLICY_LIMITS.maxIssues).map((e) => ({
        path: "",
        message: `${e.message.split("\n")[0]}${e.linePos ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : ""}`,
      })),
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: POLICY_LIMITS.maxAliases });
  } catch (error) {
    return err([{ path: "", message: (error as Error).message }]);
  }
  return parsePolicy(value);
}

/** A policy value (a JSON body, parsed YAML) → a policy, or every problem at once, each with its JSON pointer. */
export function parsePolicy(value: unknown): Result<Policy, ValidationIssue[]> {
  const copy = Value.Clone(value);
  if (copy !== null && typeof copy === "object" && !Array.isArray(copy)) Value.Default(PolicySchema, copy);
  if (!check.Check(copy)) {
    const issues: ValidationIssue[] = [];
    for (const error of check.Errors(copy)) {
      issues.push(issueOf(error));
      if (issues.length >= POLICY_LIMITS.maxIssues) break;
    }
    return err(dedupe(issues));
  }
  const doc = copy as PolicyDocument;
  const issues = semanticIssues(doc);
  if (issues.length > 0) return err(issues);
  return ok(normalize(doc));
}

/** As parsePolicy, throwing POLICY_INVALID (422) with every issue in details.issues. */
export function validatePolicy(value: unknown): Policy {
  const result = parsePolicy(value);
  if (!result.ok) throw policyInvalid(result.error);
  return result.value;
}

export function policyInvalid(issues: ValidationIssue[]): SkalaError {
  const first = issues[0];
  const summary =
    issues.length === 1
      ? `${first?.path || "/"}: ${first?.message}`
      : `${issues.length} problems in the policy, first ${first?.path || "/"}: ${first?.message}`;
  return new SkalaError("POLICY_INVALID", summary, { issues });
}

function issueOf(error: ValueError): ValidationIssue {
  const { schema, path, value } = error;
  const got = `got ${describe(value)}`;
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return { path, message: "is required" };
    case ValueErrorType.ObjectAdditionalProperties: {
      const known = Object.keys((schema as { properties?: object }).properties ?? {});
      return { path, message: `unknown field; expected one of ${known.join(", ")}` };
    }
    case ValueErrorType.StringPattern:
      return { path, message: `${describe(value)} is not a valid ${schema.title} (${schema.description})` };
    case ValueErrorType.Union: {
      const values = (schema as TUnion).anyOf.map((v) => (v as { const?: unknown }).const);
      return { path, message: `must be one of ${values.join(", ")}, ${got}` };
    }
    case ValueErrorType.ArrayUniqueItems:
      return { path, message: "must not repeat an item" };
    default:
      return { path, message: `${expectation(schema) ?? error.message}, ${got}` };
  }
}

function expectation(schema: TSchema): string | undefined {
  const low = schema.exclusiveMinimum ?? schema.minimum;
  const high = schema.exclusiveMaximum ?? schema.maximum;
  const range =
    low !== undefined && high !== undefined
      ? ` in ${schema.exclusiveMinimum !== undefined ? "(" : "["}${low}, ${high}${schema.exclusiveMaximum !== undefined ? ")" : "]"}`
      : "";
  switch (schema[Kind]) {
    case "Integer":
      return `must be an integer${range}`;
    case "Number":
      return `must be a number${range}`;
    case "String":
      return "must be a string";
    case "Object":
      return "must be an object";
    case "Array":
      return `must be a list of ${schema.minItems ?? 0} to ${schema.maxItems ?? "any number of"} ${schema.title ?? "items"}`;
    default:
      return undefined;
  }
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function dedupe(issues: ValidationIssue[]): ValidationIssue[] {
  const missing = new Set(issues.filter((i) => i.message === "is required").map((i) => i.path));
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.path}\u0000${issue.message}`;
    if (seen.has(key) || (missing.has(issue.path) && issue.message !== "is required")) return false;
    seen.add(key);
    return true;
  });
}

/** What the schema cannot say: one kind per trigger, and the sections that the rules' actions need. */
function semanticIssues(doc: PolicyDocument): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  doc.rules.forEach((rule, i) => {
    const kinds = (["check", "schedule", "newData"] as const).filter((k) => rule.when[k] !== undefined);
    if (kinds.length !== 1) {
      issues.push({
        path: `/rules/${i}/when`,
        message:
          kinds.length === 0
            ? "needs one trigger: check, schedule or newData"
            : `holds ${kinds.join(" and ")}; a trigger is exactly one of check, schedule, newData (write one rule each)`,
      });
    }
    rule.do.forEach((action, j) => {
      if (action === "evaluate" && !doc.evaluate) {
        issues.push({
          path: `/rules/${i}/do/${j}`,
          message: "evaluate needs an evaluate section (test, alpha)",
        });
      }
      if (action === "rollback" && !doc.rollback) {
        issues.push({
          path: `/rules/${i}/do/${j}`,
          message: "rollback needs a rollback section (probationHours, degradation, approval)",
        });
      }
    });
  });
  if (doc.promote && !doc.evaluate) {
    issues.push({
      path: "/promote",
      message: "promote needs an evaluate section: promotion follows an evaluation",
    });
  }
  if (doc.evaluate?.test === "rank" && (doc.evaluate.h !== undefined || doc.evaluate.power !== undefined)) {
    issues.push({ path: "/evaluate", message: "h and power belong to the Diebold–Mariano test (test: dm)" });
  }
  if (doc.evaluate?.test === "dm" && doc.evaluate.minEffect !== undefined) {
    issues.push({ path: "/evaluate/minEffect", message: "minEffect belongs to the rank test (test: rank)" });
  }
  return issues;
}

function normalize(doc: PolicyDocument): Policy {
  const trigger = (when: PolicyDocument["rules"][number]["when"]): Trigger => {
    if (when.check) {
      return {
        kind: "check",
        ...(when.check.names && { names: when.check.names }),
        ...(when.check.level && { level: when.check.level }),
      };
    }
    if (when.schedule) return { kind: "schedule", everyMinutes: when.schedule.everyMinutes };
    return { kind: "new-data", minActuals: (when.newData as { minActuals: number }).minActuals };
  };
  return Object.freeze({
    name: doc.name,
    project: doc.project ?? "default",
    ...(doc.fleet !== undefined && { fleet: doc.fleet }),
    ...(doc.environment !== undefined && { environment: doc.environment }),
    rules: doc.rules.map((rule) => ({ when: trigger(rule.when), do: rule.do })),
    ...(doc.evaluate && { evaluate: doc.evaluate }),
    ...(doc.promote && { promote: doc.promote }),
    ...(doc.rollback && { rollback: doc.rollback }),
    limits: doc.limits ?? {},
    approval: doc.approval ?? { environments: [], expiresAfterHours: 72 },
  });
}

/** Whether a person must decide this kind of action under this policy. */
export function needsPerson(policy: Policy, kind: "promote" | "rollback"): boolean {
  const decider = kind === "promote" ? policy.promote?.approval : policy.rollback?.approval;
  if (decider === "person") return true;
  return policy.environment !== undefined && policy.approval.environments.includes(policy.environment);
}

/** A validated policy written back as a document (defaults filled in): what the API answers and stores. */
export function policyDocument(policy: Policy): PolicyDocument {
  return {
    name: policy.name,
    project: policy.project,
    ...(policy.fleet !== undefined && { fleet: policy.fleet }),
    ...(policy.environment !== undefined && { environment: policy.environment }),
    rules: policy.rules.map((rule) => ({ when: triggerDocument(rule.when), do: [...rule.do] })),
    ...(policy.evaluate && { evaluate: { ...policy.evaluate } }),
    ...(policy.promote && { promote: { ...policy.promote } }),
    ...(policy.rollback && { rollback: { ...policy.rollback } }),
    limits: { ...policy.limits },
    approval: {
      environments: [...policy.approval.environments],
      expiresAfterHours: policy.approval.expiresAfterHours,
    },
  };
}

function triggerDocument(trigger: Trigger): PolicyDocument["rules"][number]["when"] {
  switch (trigger.kind) {
    case "check":
      return {
        check: {
          ...(trigger.names && { names: [...trigger.names] }),
          ...(trigger.level && { level: trigger.level }),
        },
      };
    case "schedule":
      return { schedule: { everyMinutes: trigger.everyMinutes } };
    case "new-data":
      return { newData: { minActuals: trigger.minActuals } };
  }
}
