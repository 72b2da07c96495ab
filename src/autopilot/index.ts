export {
  type ActionOutcome,
  type AutopilotObserver,
  CHAMPION,
  type ExecutedAction,
} from "./action-executor.js";
export { autopilotApi } from "./autopilot.api.js";
export { autopilotRoutes } from "./autopilot.routes.js";
export {
  type AutopilotOptions,
  AutopilotService,
  type RunReport,
  type StoredPolicy,
} from "./autopilot.service.js";
export * from "./autopilot.types.js";
export { decide, fires, rateLimitRefusal } from "./decide.js";
export {
  needsPerson,
  POLICY_LIMITS,
  type Policy,
  type PolicyRule,
  parsePolicy,
  parsePolicyText,
  policyDocument,
  policyInvalid,
  type RateLimit,
  type Trigger,
  validatePolicy,
} from "./policy.js";
export { type PolicyDocument, PolicySchema } from "./policy.schema.js";
export type {
  CompareOptions,
  ComparePort,
  Comparison,
  EvidencePort,
  FiredCheck,
  RetrainPort,
  RetrainRequest,
} from "./ports.js";
