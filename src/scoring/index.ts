export {
  type ColumnPlan,
  type InvalidRowPolicy,
  outputColumnNames,
  type PlanColumnsInput,
  planColumns,
  type ScoringInput,
  type ScoringOutput,
} from "./column-plan.js";
export { OUTPUT_ARTIFACT, runScoringJob, type ScoreRunnerDeps } from "./score-runner.js";
export { scoringApi } from "./scoring.api.js";
export { scoringRoutes } from "./scoring.routes.js";
export { ScoringJobSchema } from "./scoring.schemas.js";
export { ScoringService, type ScoringServiceOptions } from "./scoring.service.js";
export {
  DEFAULT_BATCH_ROWS,
  type InvalidRow,
  MAX_BATCH_ROWS,
  SCORE_JOB,
  type ScorePayload,
  type ScoreProgress,
  type ScoreResult,
  type ScoringJob,
  type ScoringOutputFile,
  type SubmitScoringInput,
  type SubmitScoringResult,
} from "./scoring.types.js";
