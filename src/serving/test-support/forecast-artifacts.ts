import { fitModel } from "../../forecasting/index.js";
import { FORECAST_FORMAT, type ForecastArtifact } from "../runtimes/index.js";

/**
 * A valid `skala.forecast/v1` artifact for tests that register forecasting versions: a mean model fitted on a
 * short series derived from `seed`, so different seeds give different artifacts (and blobs). Registration
 * checks artifacts, so tests can no longer register arbitrary JSON under `skala.forecast`.
 */
export function forecastArtifact(seed = 0, quantiles: number[] = [0.1, 0.5, 0.9]): ForecastArtifact {
  const series = Float64Array.from({ length: 12 }, (_, t) => 10 + ((seed * 7 + t * 3) % 11));
  const fitted = fitModel("mean", series, { period: 1 });
  if (!fitted.ok) throw new Error(`fitting the test forecast failed: ${fitted.error.message}`);
  return { format: FORECAST_FORMAT, state: fitted.value.toState(), horizon: 6, period: 1, quantiles };
}
