import type { SegmentOutcome } from "./segment-trainer.js";
import { trainSegment } from "./segment-trainer.js";
import type { TrainingTask } from "./training-pool.js";

/** Entry point of a training thread (run by piscina): trains each segment of a task, outcomes in order. */
export default function trainTask(task: TrainingTask): SegmentOutcome[] {
  return task.segments.map((segment) => trainSegment(segment.seriesId, segment.values, task.plan));
}
