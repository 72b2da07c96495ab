import { type Expression, type ExpressionBuilder, type SqlBool, sql } from "kysely";
import type { Database, ModelVersionsTable, RegisteredModelsTable } from "../../store/index.js";
import {
  type ComparisonOperator,
  endsWithLoneEscape,
  type FilterExpression,
  type NumericField,
  type StringAttribute,
  type StringField,
} from "./filter-parser.js";

/**
 * The tables a version search sees: `model_versions as v` joined with `registered_models as m`
 * (`selectFrom("model_versions as v").innerJoin("registered_models as m", "m.id", "v.model_id")`).
 */
export type VersionFilterDatabase = Database & { v: ModelVersionsTable; m: RegisteredModelsTable };
export type VersionFilterBuilder = ExpressionBuilder<VersionFilterDatabase, "v" | "m">;
export type VersionFilterPredicate = (eb: VersionFilterBuilder) => Expression<SqlBool>;

const STRING_COLUMNS = {
  runtime: "v.runtime",
  status: "v.status",
  created_at: "v.created_at",
  model: "m.name",
  fleet: "m.fleet",
  run_id: "v.run_id",
} as const satisfies Record<StringAttribute, string>;

type StringColumn = (typeof STRING_COLUMNS)[StringAttribute];

// Only these columns may be NULL; see `attributeCondition`.
const NULLABLE_COLUMNS: ReadonlySet<StringColumn> = new Set(["m.fleet", "v.run_id"]);

/** What to test on a value: the same condition applies to an attribute column or a key-value row's value. */
type ValueCondition =
  | { readonly kind: "compare"; readonly op: ComparisonOperator; readonly value: string | number }
  | { readonly kind: "in"; readonly values: readonly (string | number)[] }
  | { readonly kind: "like"; readonly pattern: string };

// SQLite has no default LIKE escape character and PostgreSQL's is "\": naming it makes both agree. It is bound
// as a parameter rather than written as a literal, so standard_conforming_strings cannot change its meaning.
const LIKE_ESCAPE = "\\";

/**
 * parseFilter rejects a pattern ending in a lone escape; an AST built in code may still carry one, and
 * PostgreSQL would fail on it, so it is read as a literal backslash.
 */
function likePattern(pattern: string): string {
  return endsWithLoneEscape(pattern) ? `${pattern}${LIKE_ESCAPE}` : pattern;
}

function valueCondition(eb: VersionFilterBuilder, column: Expression<unknown>, condition: ValueCondition) {
  switch (condition.kind) {
    case "compare":
      return eb(column, condition.op, condition.value);
    case "in":
      return eb(column, "in", condition.values);
    case "like":
      // lower() on both sides: SQLite's LIKE ignores ASCII case and PostgreSQL's does not; lowering both
      // makes the dialects agree (for ASCII; case folding of other letters follows each database).
      return sql<SqlBool>`lower(${column}) like lower(${likePattern(condition.pattern)}) escape ${LIKE_ESCAPE}`;
  }
}

function keyValueCondition(
  eb: VersionFilterBuilder,
  field: Exclude<NumericField | StringField, { kind: "attribute" }>,
  condition: ValueCondition,
): Expression<SqlBool> {
  // One row per (version, key), so "the version is among those with a row for this key whose value satisfies
  // the condition" reads as "the version has the key and its value satisfies it": `!=` never matches a version
  // without the key. `v.id in (subquery)` lets both databases evaluate the subquery once from the
  // (key, value) index instead of probing it for every version scanned.
  switch (field.kind) {
    case "metric":
      return eb(
        "v.id",
        "in",
        eb
          .selectFrom("version_metrics as kv")
          .select("kv.version_id")
          .where("kv.key", "=", field.key)
          .where((sb) => valueCondition(sb, sb.ref("kv.value"), condition)),
      );
    case "tag":
    case "param":
      return eb(
        "v.id",
        "in",
        eb
          .selectFrom(field.kind === "tag" ? "version_tags as kv" : "version_params as kv")
          .select("kv.version_id")
          .where("kv.key", "=", field.key)
          .where((sb) => valueCondition(sb, sb.ref("kv.value"), condition)),
      );
  }
}

function fieldCondition(
  eb: VersionFilterBuilder,
  field: NumericField | StringField,
  condition: ValueCondition,
) {
  if (field.kind !== "attribute") return keyValueCondition(eb, field, condition);
  if (field.name === "version") return valueCondition(eb, eb.ref("v.version"), condition);
  const column = STRING_COLUMNS[field.name];
  const test = valueCondition(eb, eb.ref(column), condition);
  // A comparison on a missing value is false rather than SQL's unknown, so that `not` is a plain complement:
  // `not fleet = "a"` matches models without a fleet, just as `not tags.x = "a"` matches versions without tag x.
  return NULLABLE_COLUMNS.has(column) ? eb.and([eb(eb.ref(column), "is not", null), test]) : test;
}

function compile(eb: VersionFilterBuilder, node: FilterExpression): Expression<SqlBool> {
  switch (node.kind) {
    case "and":
      return eb.and(node.operands.map((operand) => compile(eb, operand)));
    case "or":
      return eb.or(node.operands.map((operand) => compile(eb, operand)));
    case "not":
      return eb.not(compile(eb, node.operand));
    case "compare":
      return fieldCondition(eb, node.field, { kind: "compare", op: node.op, value: node.value });
    case "in":
      return fieldCondition(eb, node.field, { kind: "in", values: node.values });
    case "like":
      return fieldCondition(eb, node.field, { kind: "like", pattern: node.pattern });
  }
}

/**
 * Turns a parsed filter into a Kysely predicate over `model_versions as v` joined with `registered_models as m`.
 * Every value and key is a bound parameter; the SQL is portable between SQLite and PostgreSQL.
 *
 * @example
 * const where = compileVersionFilter(parseFilter('metrics.mase < 0.9 and tags.segment = "A12"'));
 * await db
 *   .selectFrom("model_versions as v")
 *   .innerJoin("registered_models as m", "m.id", "v.model_id")
 *   .selectAll("v")
 *   .where(where)
 *   .execute();
 */
export function compileVersionFilter(filter: FilterExpression): VersionFilterPredicate {
  return (eb) => compile(eb, filter);
}
