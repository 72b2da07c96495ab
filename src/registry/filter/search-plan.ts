import { expressionBuilder, type Kysely } from "kysely";
import type { Database } from "../../store/index.js";
import {
  compileVersionFilter,
  type KeyValueDriver,
  keyValueRows,
  nodeCondition,
  type VersionFilterDatabase,
  type VersionFilterPredicate,
  valueCondition,
} from "./filter-compiler.js";
import type { ComparisonNode, FilterExpression, FilterField, InNode, LikeNode } from "./filter-parser.js";

/**
 * How a version search reads a page (sorted by version id, `limit` rows). Two shapes, the same rows:
 *
 * - `versions-first`: versions are read in id order (or, when `where` has a driving condition, only the ids
 *   that condition's index yields), each checked against the rest of the filter, and reading stops at a full
 *   page. The join to the model must not come first (a `cross join`, which SQLite never reorders).
 * - `models-first`: the matching models are found first through their indexes (`model = "…"`), then their
 *   versions; the join order is left to the database.
 */
export interface VersionSearchPlan {
  readonly start: "versions-first" | "models-first";
  readonly where: VersionFilterPredicate | undefined;
}

/**
 * Conditions matching more rows than this are never the starting point. Starting from a condition costs about
 * 1 µs per matching row (read from the index, look the version up, sort the ids), measured on SQLite at
 * 100,000 versions; a condition matching more than 5,000 of 100,000 versions (5 %) is better left to a scan in
 * id order, which meets a page of 100 matches within about 2,000 versions.
 */
export const DRIVER_MAX_ROWS = 5_000;

type ComparisonLike = ComparisonNode | InNode | LikeNode;

const MODEL_COLUMNS = { model: "m.name", fleet: "m.fleet" } as const;
type ModelField = { readonly kind: "attribute"; readonly name: keyof typeof MODEL_COLUMNS };

/**
 * Top-level conjuncts on one field that an index can look up, and so could be where a search starts: metric,
 * tag and param comparisons other than `!=` and `like` (those read every row of the key), and conditions on the
 * model's name or fleet other than `!=`.
 */
export type DrivingCandidate =
  | (KeyValueDriver & { readonly side: "versions" })
  | { readonly side: "models"; readonly field: ModelField; readonly nodes: readonly ComparisonLike[] };

function isModelField(field: FilterField): field is ModelField {
  return field.kind === "attribute" && field.name in MODEL_COLUMNS;
}

/** The candidates among the operands of the filter's top-level `and` (or the filter itself), one per field. */
export function drivingCandidates(filter: FilterExpression | undefined): readonly DrivingCandidate[] {
  if (!filter) return [];
  const byField = new Map<string, DrivingCandidate>();
  for (const node of filter.kind === "and" ? filter.operands : [filter]) {
    if (node.kind !== "compare" && node.kind !== "in" && node.kind !== "like") continue;
    if (node.kind === "compare" && node.op === "!=") continue;
    const { field } = node;
    const candidate: DrivingCandidate | undefined =
      field.kind !== "attribute"
        ? node.kind === "like"
          ? undefined
          : { side: "versions", field, nodes: [node] }
        : isModelField(field)
          ? { side: "models", field, nodes: [node] }
          : undefined;
    if (!candidate) continue;
    const key = field.kind === "attribute" ? field.name : `${field.kind}.${field.key}`;
    const seen = byField.get(key);
    byField.set(key, seen ? { ...seen, nodes: [...seen.nodes, node] } : candidate);
  }
  return [...byField.values()];
}

// The subqueries name the same tables as the search (`v`, `m`, `kv`); they never refer to a search's rows.
const SCOPE = expressionBuilder<VersionFilterDatabase, "v" | "m">();

/** The rows a search starting from `candidate` reads, at most `DRIVER_MAX_ROWS + 1` of them. */
function drivingRows(candidate: DrivingCandidate, projectId: string) {
  const conditions = candidate.nodes.map(nodeCondition);
  if (candidate.side === "versions") {
    return keyValueRows(SCOPE, candidate.field, conditions)
      .limit(DRIVER_MAX_ROWS + 1)
      .as("s");
  }
  const column = MODEL_COLUMNS[candidate.field.name];
  return SCOPE.selectFrom("registered_models as m")
    .innerJoin("model_versions as v", "v.model_id", "m.id")
    .select("v.id as version_id")
    .where("m.project_id", "=", projectId)
    .where((eb) => eb.and(conditions.map((condition) => valueCondition(eb, eb.ref(column), condition))))
    .limit(DRIVER_MAX_ROWS + 1)
    .as("s");
}

/**
 * One query that counts, for each candidate, the rows starting from it would read, each count stopping at
 * `DRIVER_MAX_ROWS + 1` so that estimating never costs much more than the plan it picks. A metric, tag or param
 * counts its key-value rows (across projects: the index does not know them); a model condition counts the
 * versions of the project's matching models.
 */
export function candidateSizesQuery(
  db: Kysely<Database>,
  projectId: string,
  candidates: readonly DrivingCandidate[],
) {
  return db.selectNoFrom(
    candidates.map((candidate, i) =>
      SCOPE.selectFrom(drivingRows(candidate, projectId))
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .as(`n${i}`),
    ),
  );
}

/**
 * Chooses where a search starts from the candidates' estimated sizes (`sizes[i]` for `candidates[i]`, from
 * `candidateSizesQuery`): the smallest at most `DRIVER_MAX_ROWS`, else a scan in id order.
 *
 * @example
 * const filter = parseFilter('metrics.mase < 0.05 and tags.segment = "A"');
 * const candidates = drivingCandidates(filter);
 * planVersionSearch(filter, candidates, [5000, 50001]); // starts from the rows with mase < 0.05
 */
export function planVersionSearch(
  filter: FilterExpression | undefined,
  candidates: readonly DrivingCandidate[],
  sizes: readonly number[],
): VersionSearchPlan {
  if (!filter) return { start: "versions-first", where: undefined };
  let best: { candidate: DrivingCandidate; size: number } | undefined;
  candidates.forEach((candidate, i) => {
    const size = Number(sizes[i]);
    if (size <= DRIVER_MAX_ROWS && (!best || size < best.size)) best = { candidate, size };
  });
  if (!best) return { start: "versions-first", where: compileVersionFilter(filter) };
  const { candidate } = best;
  if (candidate.side === "models") return { start: "models-first", where: compileVersionFilter(filter) };
  return { start: "versions-first", where: compileVersionFilter(filter, { driver: candidate }) };
}

/**
 * `model_versions as v` joined with `registered_models as m` in the plan's shape, filtered by the plan; the caller
 * selects, restricts to a project, orders by `v.id` and limits.
 */
export function searchedVersions(db: Kysely<Database>, plan: VersionSearchPlan) {
  const from = db.selectFrom("model_versions as v");
  const joined =
    plan.start === "models-first"
      ? from.innerJoin("registered_models as m", "m.id", "v.model_id")
      : from.crossJoin("registered_models as m").whereRef("m.id", "=", "v.model_id");
  return plan.where ? joined.where(plan.where) : joined;
}
