import type { CoreState, ModelInfo } from "./types.js";

/** What every method's fitting function produces before a predictive distribution is attached. */
export interface MethodFit {
  readonly label: string;
  readonly core: CoreState;
  readonly info: ModelInfo;
  /** In-sample one-step-ahead forecasts (NaN where the method has none yet). */
  readonly fitted: Float64Array;
  /** First index whose fitted value may calibrate a predictive distribution. */
  readonly calibrationStart: number;
  /** Intermittent-demand methods default to a count distribution. */
  readonly intermittent?: boolean;
}
