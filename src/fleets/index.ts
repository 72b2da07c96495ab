export { type FleetService, formatReport, type SubmitFleetInput } from "./fleet.service.js";
export type { Distribution, FleetProgress, FleetReport, FleetRun, FleetRunStatus } from "./fleet.types.js";
export {
  DEFAULT_CHUNK_SIZE,
  type FleetRunSettings,
  modelNameFor,
  settingsFromSpec,
} from "./fleet-settings.js";
export {
  type FleetSpec,
  parseFleetSpec,
  SPEC_LIMITS,
  type SpecIssue,
  toSegmentPlan,
  validateFleetSpec,
} from "./fleet-spec.js";
export { fleetApi } from "./fleets.api.js";
export { createFleets, type Fleets } from "./fleets.js";
export { fleetRoutes } from "./fleets.routes.js";
export * as fleetSchemas from "./fleets.schemas.js";
export type { SegmentPlan } from "./segment-plan.js";
export { type SegmentOutcome, trainSegment } from "./segment-trainer.js";
export { type LoadedSeries, loadSeries } from "./series-loader.js";
