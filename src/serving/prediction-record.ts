import type { Tensor } from "./protocol/index.js";

/**
 * What the inference path hands whoever records predictions (the monitoring capability's prediction log):
 * serving defines the shape, monitoring implements the recorder, the composition root wires them.
 */

/** How the answering version was chosen: by number, the model's default, or a deployment route's target. */
export type PredictionRoute = "direct" | "default" | "shadow" | (string & {});

/** One prediction, as the inference path saw it. Tensors are the protocol's decoded tensors, not copies. */
export interface PredictionRecord {
  project: string;
  model: string;
  version: number;
  versionId: string;
  route: PredictionRoute;
  requestId?: string;
  inputs: Tensor[];
  /** Absent when the prediction failed. */
  outputs?: Tensor[];
  /** The failure's message; absent on success. */
  error?: string;
  latencyMs: number;
  at: Date;
}
