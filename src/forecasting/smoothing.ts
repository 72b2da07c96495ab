/**
 * The exponential smoothing methods as R's forecast package defines them: ses, holt (optionally damped) and
 * hw are ETS models with fixed components estimated by in-sample MSE; ets() estimates by likelihood and may
 * select components.
 */

import { type EtsResult, type EtsSpec, etsCoreOf, fitEts } from "./ets.js";
import type { MethodFit } from "./method-fit.js";
import type { FitResult, MethodSpec, ModelInfo } from "./types.js";

export function etsMethodFit(fit: EtsResult): MethodFit {
  const info: ModelInfo = {
    params: fit.par,
    sigma2: finiteOrNull(fit.sigma2),
    loglik: finiteOrNull(fit.loglik),
    aic: finiteOrNull(fit.aic),
    aicc: finiteOrNull(fit.aicc),
    bic: finiteOrNull(fit.bic),
    ...(fit.candidates.length > 0 ? { candidates: fit.candidates } : {}),
  };
  // Multiplicative-error models report relative residuals; sigma2 is then a relative variance.
  const sigma2 = Number.isFinite(fit.sigma2) ? fit.sigma2 : meanSquare(fit.residuals);
  return {
    label: fit.label,
    core: { kind: "ets", ...etsCoreOf(fit), state: Array.from(fit.lastState), sigma2 },
    info,
    fitted: fit.fitted,
    calibrationStart: 0,
  };
}

type SmoothingSpec = Extract<
  MethodSpec,
  { method: "ses" | "holt" | "damped-holt" | "hw-additive" | "hw-multiplicative" | "ets" }
>;

export function fitSmoothing(y: Float64Array, period: number, spec: SmoothingSpec): FitResult<MethodFit> {
  let etsSpec: EtsSpec;
  switch (spec.method) {
    case "ses":
      etsSpec = { model: "ANN", criterion: "mse", alpha: spec.alpha };
      break;
    case "holt":
      if (y.length < 2) return fail("TOO_SHORT", "holt needs at least two observations");
      etsSpec = { model: "AAN", damped: false, criterion: "mse", alpha: spec.alpha, beta: spec.beta };
      break;
    case "damped-holt":
      if (y.length < 2) return fail("TOO_SHORT", "damped holt needs at least two observations");
      etsSpec = {
        model: "AAN",
        damped: true,
        criterion: "mse",
        alpha: spec.alpha,
        beta: spec.beta,
        phi: spec.phi,
      };
      break;
    case "hw-additive":
    case "hw-multiplicative": {
      if (period <= 1) return fail("NOT_APPLICABLE", "Holt-Winters needs a seasonal period above 1");
      if (y.length < period + 3) {
        return fail("TOO_SHORT", `Holt-Winters needs at least ${period + 3} observations, got ${y.length}`);
      }
      const model = spec.method === "hw-additive" ? "AAA" : "MAM";
      etsSpec = { model, damped: spec.damped ?? false, criterion: "mse" };
      break;
    }
    case "ets":
      etsSpec = {
        model: spec.model,
        damped: spec.damped,
        alpha: spec.alpha,
        beta: spec.beta,
        gamma: spec.gamma,
        phi: spec.phi,
        ic: spec.ic,
        criterion: spec.criterion,
        additiveOnly: spec.additiveOnly,
      };
      break;
    default: {
      const never: never = spec;
      return fail("INVALID_OPTIONS", `unknown method ${JSON.stringify(never)}`);
    }
  }
  const result = fitEts(y, period, etsSpec);
  if (!result.ok) return result;
  return { ok: true, value: etsMethodFit(result.value) };
}

function fail(code: "TOO_SHORT" | "NOT_APPLICABLE" | "INVALID_OPTIONS", message: string): FitResult<never> {
  return { ok: false, error: { code, message } };
}

function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function meanSquare(x: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] as number) ** 2;
  return x.length > 0 ? s / x.length : 0;
}
