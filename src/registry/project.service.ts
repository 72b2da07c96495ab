import type { Kysely } from "kysely";
import { type Clock, SkalaError } from "../core/index.js";
import type { Database } from "../store/index.js";
import { ProjectsRepository } from "./projects.repository.js";
import type { CreateProjectInput } from "./registry.schemas.js";
import type { Project } from "./registry.types.js";

export const DEFAULT_PROJECT = "default";

export class ProjectService {
  private readonly projects: ProjectsRepository;

  constructor(
    db: Kysely<Database>,
    private readonly clock: Clock,
  ) {
    this.projects = new ProjectsRepository(db);
  }

  async create(input: CreateProjectInput): Promise<Project> {
    const project = await this.projects.insert({
      name: input.name,
      description: input.description ?? "",
      now: this.clock.now(),
    });
    if (!project)
      throw new SkalaError("PROJECT_EXISTS", `project "${input.name}" already exists`, {
        project: input.name,
      });
    return project;
  }

  /** Creates the project unless it exists; used at start-up for the default project. */
  async ensure(name: string, description = ""): Promise<Project> {
    return (
      (await this.projects.findByName(name)) ??
      (await this.projects.insert({ name, description, now: this.clock.now() })) ??
      (await this.get(name))
    );
  }

  async get(name: string): Promise<Project> {
    const project = await this.projects.findByName(name);
    if (!project)
      throw new SkalaError("PROJECT_NOT_FOUND", `project "${name}" does not exist`, { project: name });
    return project;
  }

  list(): Promise<Project[]> {
    return this.projects.list();
  }
}
