export { type BackoffOptions, backoffDelayMs, JobQueue, type JobQueueOptions } from "./job-queue.service.js";
export {
  type ClaimOptions,
  type EnqueueInput,
  type EnqueueResult,
  type FailOptions,
  type GroupProgress,
  JOB_STATUSES,
  type Job,
  type JobStatus,
  type ListJobsOptions,
} from "./jobs.types.js";
export {
  type JobContext,
  type JobHandler,
  PermanentJobError,
  type StopOptions,
  WorkerPool,
  type WorkerPoolOptions,
} from "./worker-pool.js";
