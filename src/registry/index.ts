export type { GcReport } from "./artifact.service.js";
export type { ArtifactCandidate, ArtifactProblem, ArtifactValidator } from "./artifact-check.js";
export { profileCsv } from "./csv-profile.js";
export type { ProfiledDataset } from "./dataset.service.js";
export type { DeploymentService } from "./deployment.service.js";
export type { ListModelsOptions } from "./model.service.js";
export { registryApi } from "./registry.api.js";
export { createRegistry, DEFAULT_PROJECT, type Registry, type RegistryOptions } from "./registry.js";
export { registryRoutes } from "./registry.routes.js";
export type { DeploymentRoute, SetDeploymentInput, Signature } from "./registry.schemas.js";
export * as schemas from "./registry.schemas.js";
export type * from "./registry.types.js";
export {
  type BulkRegisterOptions,
  DEFAULT_SERVABLE_STATUS,
  parseVersionRef,
  type RegisteredVersion,
  type RegistryObserver,
  type VersionLocation,
  type VersionRef,
} from "./version.service.js";
