export {
  compileVersionFilter,
  type VersionFilterBuilder,
  type VersionFilterDatabase,
  type VersionFilterPredicate,
} from "./filter-compiler.js";
export {
  type ComparisonNode,
  type ComparisonOperator,
  FILTER_ATTRIBUTES,
  FILTER_LIMITS,
  type FilterAttribute,
  type FilterExpression,
  type FilterField,
  type InNode,
  isNumericField,
  type LikeNode,
  type NumericField,
  parseFilter,
  type StringAttribute,
  type StringField,
} from "./filter-parser.js";
export { printFilter } from "./filter-printer.js";
export {
  candidateSizesQuery,
  DRIVER_MAX_ROWS,
  drivingCandidates,
  planVersionSearch,
  searchedVersions,
  type VersionSearchPlan,
} from "./search-plan.js";
