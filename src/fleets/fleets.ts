import type { Kysely } from "kysely";
import type { Clock } from "../core/index.js";
import type { JobQueue, WorkerPool } from "../jobs/index.js";
import type { Registry } from "../registry/index.js";
import type { Database } from "../store/index.js";
import { FleetService } from "./fleet.service.js";
import {
  CHUNK_JOB,
  type ChunkPayload,
  FINALIZE_JOB,
  type FinalizePayload,
  FleetRunner,
} from "./fleet-runner.js";
import { TrainingPool } from "./training-pool.js";

export interface Fleets {
  service: FleetService;
  runner: FleetRunner;
  training: TrainingPool;
  /** Registers the fleet job handlers on a worker pool (a process that trains). */
  attach(pool: WorkerPool): void;
  close(): Promise<void>;
}

/**
 * Wires the fleet capability over the registry and the job queue.
 *
 * @example
 * const fleets = createFleets({ db, registry, jobs, clock: systemClock, trainingThreads: 2 });
 * fleets.attach(workerPool);
 * await fleets.service.submit("default", { settings, plan, datasetDigest });
 */
export function createFleets(options: {
  db: Kysely<Database>;
  registry: Registry;
  jobs: JobQueue;
  clock: Clock;
  trainingThreads?: number;
}): Fleets {
  const training = new TrainingPool(options.trainingThreads);
  const runner = new FleetRunner(options.db, options.registry, options.jobs, training, options.clock);
  const service = new FleetService(options.db, options.registry, options.jobs, runner, options.clock);
  return {
    service,
    runner,
    training,
    attach(pool) {
      pool.register<ChunkPayload>(CHUNK_JOB, (job, context) => runner.runChunk(job.payload, context));
      pool.register<FinalizePayload>(FINALIZE_JOB, (job) => runner.finalize(job.payload));
    },
    close: () => training.close(),
  };
}
