/** Public types of the forecasting library. */

export type MethodName =
  | "naive"
  | "snaive"
  | "mean"
  | "ses"
  | "holt"
  | "damped-holt"
  | "hw-additive"
  | "hw-multiplicative"
  | "ets"
  | "theta"
  | "croston"
  | "sba"
  | "tsb"
  | "adida";

export const METHOD_NAMES: readonly MethodName[] = [
  "naive",
  "snaive",
  "mean",
  "ses",
  "holt",
  "damped-holt",
  "hw-additive",
  "hw-multiplicative",
  "ets",
  "theta",
  "croston",
  "sba",
  "tsb",
  "adida",
];

/** Criterion minimised when estimating ETS parameters (as forecast::ets's opt.crit). */
export type EtsCriterion = "lik" | "mse" | "amse" | "sigma" | "mae";

/** Information criterion for ETS model selection. */
export type InformationCriterion = "aicc" | "aic" | "bic";

/** A method with its parameters; every field is optional and plain JSON, so a fleet spec can hold it. */
export type MethodSpec =
  | { readonly method: "naive" }
  | { readonly method: "snaive" }
  | { readonly method: "mean" }
  | { readonly method: "ses"; readonly alpha?: number }
  | { readonly method: "holt"; readonly alpha?: number; readonly beta?: number }
  | { readonly method: "damped-holt"; readonly alpha?: number; readonly beta?: number; readonly phi?: number }
  | { readonly method: "hw-additive"; readonly damped?: boolean }
  | { readonly method: "hw-multiplicative"; readonly damped?: boolean }
  | {
      readonly method: "ets";
      /** Three letters error/trend/season from A, M, N, Z ("ZZZ": automatic), optionally "d" after the trend. */
      readonly model?: string;
      /** Damped trend; leave out to try both when the trend is automatic. */
      readonly damped?: boolean;
      readonly alpha?: number;
      readonly beta?: number;
      readonly gamma?: number;
      readonly phi?: number;
      readonly ic?: InformationCriterion;
      readonly criterion?: EtsCriterion;
      /** Consider only additive components. */
      readonly additiveOnly?: boolean;
    }
  | { readonly method: "theta" }
  | { readonly method: "croston"; readonly alpha?: number }
  | { readonly method: "sba"; readonly alpha?: number }
  | { readonly method: "tsb"; readonly alpha?: number; readonly beta?: number }
  | { readonly method: "adida"; readonly aggregation?: number };

/**
 * Predictive distribution attached to a model.
 * - `analytic`: the method's own Gaussian interval (R's formulas; Student t for `mean`).
 * - `negbin`: negative binomial with the point forecast as mean and a dispersion fitted by maximum
 *   likelihood to the in-sample one-step-ahead forecasts (counts; falls back to Poisson when not overdispersed).
 * - `poisson`: Poisson with the point forecast as mean.
 * - `empirical`: point forecast plus empirical quantiles of in-sample one-step residuals, widened with the
 *   method's analytic spread ratio for longer horizons.
 * - `auto`: `negbin` for croston/sba/tsb/adida, `analytic` otherwise.
 */
export type DistributionKind = "auto" | "analytic" | "negbin" | "poisson" | "empirical";

export interface FitOptions {
  /** Seasonal period (observations per cycle): 12 monthly, 4 quarterly, 1 non-seasonal. */
  readonly period: number;
  readonly distribution?: DistributionKind;
  /**
   * Clamp point forecasts and quantiles at zero, for data that cannot be negative (demand, counts). Off by
   * default so that Gaussian intervals stay R's; count distributions are non-negative anyway.
   */
  readonly nonNegative?: boolean;
}

export interface ForecastOptions {
  /** Quantile levels strictly between 0 and 1. */
  readonly quantiles?: readonly number[];
}

export interface Forecast {
  readonly mean: Float64Array;
  /** One array of length h per requested level, keyed by the level as given. */
  readonly quantiles: Map<number, Float64Array>;
}

export type ForecastErrorCode =
  | "INVALID_INPUT"
  | "INVALID_OPTIONS"
  | "TOO_SHORT"
  | "NOT_APPLICABLE"
  | "FIT_FAILED"
  | "INVALID_STATE";

/** An expected failure of fitting or restoring: returned as a value, never thrown. */
export interface ForecastError {
  readonly code: ForecastErrorCode;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export type FitResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: ForecastError };

/** Fit statistics; numbers that do not apply are null (the state is plain JSON). */
export interface ModelInfo {
  /** Estimated or fixed parameters by name (alpha, beta, gamma, phi, l, b, s0…, drift, …). */
  readonly params: Readonly<Record<string, number>>;
  readonly sigma2: number | null;
  readonly loglik: number | null;
  readonly aic: number | null;
  readonly aicc: number | null;
  readonly bic: number | null;
  /** ETS selection: every candidate tried and its information criterion (null: could not be fitted). */
  readonly candidates?: readonly { readonly model: string; readonly ic: number | null }[];
}

export type ErrorComponent = "A" | "M";
export type TrendComponent = "N" | "A";
export type SeasonComponent = "N" | "A" | "M";

/** What a method needs to forecast any horizon, as plain JSON. */
export type CoreState =
  | { readonly kind: "naive"; readonly last: number; readonly sigma2: number }
  | { readonly kind: "snaive"; readonly lastCycle: readonly number[]; readonly sigma2: number }
  | { readonly kind: "mean"; readonly mean: number; readonly sd: number; readonly n: number }
  | {
      readonly kind: "ets";
      readonly error: ErrorComponent;
      readonly trend: TrendComponent;
      readonly damped: boolean;
      readonly season: SeasonComponent;
      readonly m: number;
      readonly alpha: number;
      readonly beta: number;
      readonly gamma: number;
      readonly phi: number;
      /** Final state [l, b?, s1..sm] with s1 the most recent seasonal state (R's order). */
      readonly state: readonly number[];
      readonly sigma2: number;
    }
  | {
      readonly kind: "theta";
      readonly level: number;
      readonly alpha: number;
      readonly drift: number;
      readonly n: number;
      readonly sigma2: number;
      /** Seasonal indexes for the next m periods, or null when not seasonally adjusted. */
      readonly seasonal: readonly number[] | null;
    }
  | {
      /** A flat forecast (intermittent methods and constant series) with a SES-like spread. */
      readonly kind: "flat";
      readonly value: number;
      readonly sigma2: number;
      readonly alpha: number;
    };

export type DistributionState =
  | { readonly kind: "analytic" }
  | { readonly kind: "negbin"; readonly size: number }
  | { readonly kind: "poisson" }
  | { readonly kind: "empirical"; readonly residuals: readonly number[] };

/** The serialisable fitted model: enough to forecast without refitting. */
export interface FittedState {
  readonly format: "skala.forecast";
  readonly version: 1;
  readonly method: MethodName;
  readonly label: string;
  readonly period: number;
  readonly n: number;
  readonly core: CoreState;
  readonly distribution: DistributionState;
  /** Forecasts and quantiles are clamped at zero (FitOptions.nonNegative). */
  readonly nonNegative?: boolean;
  readonly info: ModelInfo;
}

export interface FittedModel {
  readonly method: MethodName;
  /** Human-readable model, e.g. "ETS(A,Ad,N)" or "Croston(alpha=0.1)". */
  readonly label: string;
  readonly period: number;
  /** Number of observations fitted. */
  readonly n: number;
  readonly info: ModelInfo;
  readonly distribution: DistributionState["kind"];
  /** In-sample one-step-ahead forecasts (NaN where none exists); undefined for a restored model. */
  readonly fitted: Float64Array | undefined;
  /** Point forecasts and quantiles for horizons 1..h. Throws RangeError for a bad h or level. */
  forecast(h: number, options?: ForecastOptions): Forecast;
  /** Plain-JSON state for `restore`. */
  toState(): FittedState;
}
