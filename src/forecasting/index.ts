/**
 * Built-in forecasting: pure functions over Float64Array, no I/O.
 *
 * @example
 * import { fitModel, restoreModel } from "../forecasting/index.js";
 * const r = fitModel("theta", Float64Array.of(3, 5, 4, 6, 5, 7, 6, 8), { period: 1 });
 * if (r.ok) r.value.forecast(4, { quantiles: [0.1, 0.9] });
 */

export {
  bias,
  coverage,
  mae,
  mase,
  meanFinite,
  meanPinball,
  pinball,
  rmse,
  rmsse,
  scaledPinball,
  seasonalNaiveMae,
  seasonalNaiveMse,
  smape,
  WQL_LEVELS,
  WqlAccumulator,
  weightedQuantileLoss,
} from "./metrics.js";
export { checkState, fitModel, restoreModel } from "./model.js";
export { incompleteBeta, incompleteGammaUpper, lgamma, pt, qnorm, qt } from "./special.js";
export {
  type CoreState,
  type DistributionKind,
  type DistributionState,
  type EtsCriterion,
  type FitOptions,
  type FitResult,
  type FittedModel,
  type FittedState,
  type Forecast,
  type ForecastError,
  type ForecastErrorCode,
  type ForecastOptions,
  type InformationCriterion,
  METHOD_NAMES,
  type MethodName,
  type MethodSpec,
  type ModelInfo,
} from "./types.js";
