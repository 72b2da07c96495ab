import { type Clock, SkalaError } from "../core/index.js";
import type { Executor } from "../store/index.js";
import { ProjectsRepository } from "./projects.repository.js";
import type { CreateProjectInput } from "./registry.schemas.js";
import type { Project } from "./registry.types.js";

export const DEFAULT_PROJECT = "default";

export class ProjectService {
  private readonly projects: ProjectsRepository;

  constructor(
    private readonly db: Executor,
    private readonly clock: Clock,
  ) {
    this.projects = new ProjectsRepository(db);
  }

  async create(input: CreateProjectInput, db: Executor = this.db): Promise<Project> {
    const project = await this.projects.insert(
      { name: input.name, description: input.description ?? "", now: this.clock.now() },
      db,
    );
    if (!project)
      throw new SkalaError("PROJECT_EXISTS", `project "${input.name}" already exists`, {
        project: input.name,
      });
    return project;
  }

  /** Creates the project unless it exists; used at start-up for the default project. */
  async ensure(name: string, description = "", db: Executor = this.db): Promise<Project> {
    return (
      (await this.projects.findByName(name, db)) ??
      (await this.projects.insert({ name, description, now: this.clock.now() }, db)) ??
      (await this.get(name, db))
    );
  }

  async get(name: string, db: Executor = this.db): Promise<Project> {
    const project = await this.projects.findByName(name, db);
    if (!project)
      throw new SkalaError("PROJECT_NOT_FOUND", `project "${name}" does not exist`, { project: name });
    return project;
  }

  list(): Promise<Project[]> {
    return this.projects.list();
  }
}
