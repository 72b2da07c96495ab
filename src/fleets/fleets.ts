import type { Clock } from "../core/index.js";
import type { Job, JobQueue, WorkerPool } from "../jobs/index.js";
import type { Registry } from "../registry/index.js";
import type { Store } from "../store/index.js";
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
 * const fleets = createFleets({ store, registry, jobs, clock: systemClock, trainingThreads: 2 });
 * fleets.attach(workerPool);
 * await fleets.service.submit("default", { settings, plan, datasetDigest });
 */
export function createFleets(options: {
  /** Submissions are transactions over the store's database, serialised per run key by its dialect. */
  store: Pick<Store, "db" | "sqlDialect">;
  registry: Registry;
  jobs: JobQueue;
  clock: Clock;
  trainingThreads?: number;
  /** Training thread failures no task receives; default: written to stderr. */
  onTrainingError?: (error: unknown) => void;
}): Fleets {
  const training = new TrainingPool({
    ...(options.trainingThreads !== undefined && { threads: options.trainingThreads }),
    ...(options.onTrainingError && { onError: options.onTrainingError }),
  });
  const runner = new FleetRunner(options.store.db, options.registry, options.jobs, training, options.clock);
  const service = new FleetService(options.store, options.registry, options.jobs, runner, options.clock);
  return {
    service,
    runner,
    training,
    attach(pool) {
      // A job that fails on its last attempt fails its run, so nobody waits for a fleet that cannot finish.
      const lastAttempt = async <T>(job: Job<{ runId: string }>, work: () => Promise<T>): Promise<T> => {
        try {
          return await work();
        } catch (error) {
          if (job.attempts >= job.maxAttempts)
            await runner.failRun(job.payload.runId, `${job.kind} failed: ${(error as Error).message}`);
          throw error;
        }
      };
      pool.register<ChunkPayload>(CHUNK_JOB, (job, context) =>
        lastAttempt(job, () => runner.runChunk(job.payload, context)),
      );
      pool.register<FinalizePayload>(FINALIZE_JOB, (job) =>
        lastAttempt(job, () => runner.finalize(job.payload)),
      );
    },
    close: () => training.close(),
  };
}
