import { type Expression, type ExpressionBuilder, type SqlBool, sql } from "kysely";
import type { Database, ModelVersionsTable, RegisteredModelsTable } from "../../store/index.js";
import {
  type ComparisonNode,
  type ComparisonOperator,
  endsWithLoneEscape,
  type FilterExpression,
  type InNode,
  type LikeNode,
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

/** A field stored as key-value rows: `metrics.<key>`, `tags.<key>`, `params.<key>`. */
export type KeyValueField = Exclude<NumericField | StringField, { kind: "attribute" }>;

/** What to test on a value: the same condition applies to an attribute column or a key-value row's value. */
export type ValueCondition =
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

export function valueCondition<DB, TB extends keyof DB>(
  eb: ExpressionBuilder<DB, TB>,
  column: Expression<unknown>,
  condition: ValueCondition,
) {
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

const KEY_VALUE_TABLES = {
  metric: "version_metrics as kv",
  tag: "version_tags as kv",
  param: "version_params as kv",
} as const satisfies Record<KeyValueField["kind"], string>;

/**
 * The key-value rows of a metric, tag or param whose value meets every condition: one per version that has the
 * key with such a value (there is one row per version and key).
 */
export function keyValueRows(
  eb: VersionFilterBuilder,
  field: KeyValueField,
  conditions: readonly ValueCondition[],
) {
  const table = KEY_VALUE_TABLES[field.kind];
  return (
    eb
      // The three tables differ only in the type of `value`, which this query never reads into TypeScript.
      .selectFrom(table as "version_tags as kv")
      .select("kv.version_id")
      .where("kv.key", "=", field.key)
      .where((sb) => sb.and(conditions.map((condition) => valueCondition(sb, sb.ref("kv.value"), condition))))
  );
}

function keyValueCondition(
  eb: VersionFilterBuilder,
  field: KeyValueField,
  condition: ValueCondition,
): Expression<SqlBool> {
  // One row per (version, key), so "the version has a row for this key whose value satisfies the condition"
  // reads as "the version has the key and its value satisfies it": `!=` never matches a version without the
  // key. Written as a correlated `exists`: one probe of the (version_id, key) primary key per version the
  // search considers. As `v.id in (subquery)`, SQLite would first build the full set of matching ids (50,000
  // for a tag that half of 100,000 versions carry) on every query; only a driving condition takes that form.
  return eb.exists(keyValueRows(eb, field, [condition]).whereRef("kv.version_id", "=", "v.id"));
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

/** The condition a comparison node tests on its field's value. */
export function nodeCondition(node: ComparisonNode | InNode | LikeNode): ValueCondition {
  switch (node.kind) {
    case "compare":
      return { kind: "compare", op: node.op, value: node.value };
    case "in":
      return { kind: "in", values: node.values };
    case "like":
      return { kind: "like", pattern: node.pattern };
  }
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
    case "in":
    case "like":
      return fieldCondition(eb, node.field, nodeCondition(node));
  }
}

/** Comparisons on one metric, tag or param, all of them operands of a filter's top-level `and`. */
export interface KeyValueDriver {
  readonly field: KeyValueField;
  readonly nodes: readonly (ComparisonNode | InNode | LikeNode)[];
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
export function compileVersionFilter(
  filter: FilterExpression,
  options: {
    /**
     * Top-level conjuncts on one key (nodes of `filter`, by identity) that the database should start from:
     * together they become one `v.id in (select version_id … where key = ? and <each condition>)`, which reads
     * only the matching rows of the (key, value) index; `metrics.m >= 1 and metrics.m < 2` is one range there.
     * Every other key-value comparison is a correlated `exists`. See `planVersionSearch`.
     */
    driver?: KeyValueDriver;
  } = {},
): VersionFilterPredicate {
  const { driver } = options;
  if (!driver) return (eb) => compile(eb, filter);
  const others = (filter.kind === "and" ? filter.operands : [filter]).filter(
    (node) => !(driver.nodes as readonly FilterExpression[]).includes(node),
  );
  return (eb) =>
    eb.and([
      eb("v.id", "in", keyValueRows(eb, driver.field, driver.nodes.map(nodeCondition))),
      ...others.map((node) => compile(eb, node)),
    ]);
}
