import type { JobQueue } from "../../jobs/index.js";
import type { Executor } from "../../store/index.js";
import type { RetrainPort, RetrainRequest } from "../ports.js";

export const RETRAIN_JOB = "autopilot.retrain";

/**
 * The retrain port in process, for tests: one `autopilot.retrain` job per segment on the real queue, in the
 * caller's transaction, each keyed by the action's key and the segment so the same action never queues twice.
 */
export function queueRetrain(queue: JobQueue): RetrainPort {
  return {
    async retrain(request: RetrainRequest, db: Executor) {
      const { jobs } = await queue.enqueue(
        request.segments.map((segment) => ({
          kind: RETRAIN_JOB,
          payload: { project: request.project, fleet: request.fleet, segment, reason: request.reason },
          idempotencyKey: `${request.idempotencyKey}#${segment}`,
        })),
        db,
      );
      return { jobIds: jobs.map((j) => j.id) };
    },
  };
}
