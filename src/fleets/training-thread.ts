import { parentPort } from "node:worker_threads";
import { trainSegment } from "./segment-trainer.js";
import type { TrainingTask } from "./training-pool.js";

// Entry point of a training thread: trains each segment of a task and posts the outcomes back in order.
parentPort?.on("message", (task: TrainingTask) => {
  const outcomes = task.segments.map((segment) => trainSegment(segment.seriesId, segment.values, task.plan));
  parentPort?.postMessage(outcomes);
});
