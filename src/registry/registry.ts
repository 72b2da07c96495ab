import type { BlobStore } from "../artifacts/index.js";
import type { Clock } from "../core/index.js";
import type { Store } from "../store/index.js";
import { ArtifactService } from "./artifact.service.js";
import type { ArtifactValidator } from "./artifact-check.js";
import { DatasetService } from "./dataset.service.js";
import { DeploymentService } from "./deployment.service.js";
import { ModelService } from "./model.service.js";
import { DEFAULT_PROJECT, ProjectService } from "./project.service.js";
import { ProjectResolver } from "./project-resolver.js";
import { RunService } from "./run.service.js";
import { type RegistryObserver, VersionService } from "./version.service.js";

export interface RegistryOptions {
  store: Store;
  blobs: BlobStore;
  clock: Clock;
  limits: { bulkMaxVersions: number; pageSizeMax: number; artifactMaxBytes: number };
  observer?: RegistryObserver;
  /**
   * Refuses, at registration, versions that could never load (serving's runtimes implement it). Without one,
   * as in a process that runs only the registry, every artifact is accepted and a broken one fails when a
   * server first loads it.
   */
  artifactValidator?: ArtifactValidator;
}

export interface Registry {
  projects: ProjectService;
  models: ModelService;
  versions: VersionService;
  runs: RunService;
  datasets: DatasetService;
  deployments: DeploymentService;
  artifacts: ArtifactService;
}

/**
 * Wires the registry's services over one store and blob store.
 *
 * @example
 * const registry = createRegistry({ store, blobs, clock: systemClock, limits });
 * await registry.versions.resolve("default", "part-A12@champion");
 */
export function createRegistry(options: RegistryOptions): Registry {
  const { store } = options;
  const { db } = store;
  const projects = new ProjectResolver(db);
  const artifacts = new ArtifactService(db, options.blobs, options.clock, options.limits.artifactMaxBytes);
  const versions = new VersionService(
    store,
    projects,
    artifacts,
    options.clock,
    options.limits,
    options.observer,
    options.artifactValidator,
  );
  return {
    projects: new ProjectService(db, options.clock),
    models: new ModelService(store, projects, options.clock, options.limits.pageSizeMax),
    versions,
    runs: new RunService(store, projects, artifacts, options.clock, options.limits.pageSizeMax),
    datasets: new DatasetService(store, projects, artifacts, options.clock),
    deployments: new DeploymentService(store, projects, versions, options.clock, options.observer),
    artifacts,
  };
}

export { DEFAULT_PROJECT };
