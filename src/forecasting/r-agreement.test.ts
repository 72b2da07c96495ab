/**
 * Agreement with R's forecast package (8.20) on the fixtures written by scripts/r/make-forecast-fixtures.R.
 * Tolerances are documented in src/forecasting/README.md.
 */

import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { etsForecast } from "./ets.js";
import { fitModel } from "./model.js";
import { qnorm } from "./special.js";
import type { FittedModel, MethodSpec } from "./types.js";

const FIXTURES = fileURLToPath(new URL("../../test/fixtures/forecast/", import.meta.url));

/** Deterministic computations (no optimiser, or an optimiser that converged in R). */
const EXACT = 1e-8;
/** ETS fits where R's optimiser converged: the same path up to floating-point rounding. */
const CONVERGED = 1e-6;
/** Fits where R's Nelder–Mead stopped at its 2000-evaluation budget: both are near optima. */
const STOPPED_AICC = 0.01;
/** Automatic selection may pick another model only when R's AICc values of the two are this close. */
const SELECTION_AICC = 1.0;

interface Band {
  readonly mean: number[];
  readonly lower80?: number[];
  readonly upper80?: number[];
  readonly lower95?: number[];
  readonly upper95?: number[];
}

interface EtsRecord extends Band {
  readonly method: string;
  readonly components: [string, string, string, string];
  readonly par: Record<string, number>;
  readonly aicc: number;
  readonly sigma2: number;
  readonly optimizer?: { readonly fail: number; readonly evaluations: number };
}

type MaybeError<T> = T | { readonly error: string };

interface Fixture {
  readonly source: string;
  readonly id: string;
  readonly period: number;
  readonly h: number;
  readonly y: number[];
  readonly ets_auto: MaybeError<EtsRecord>;
  readonly ets_candidates: { model: string; aicc: number | null; optimizer?: { fail: number } | null }[];
  readonly ets_fixed: Record<string, MaybeError<EtsRecord>>;
  readonly ses: MaybeError<EtsRecord>;
  readonly holt: MaybeError<EtsRecord>;
  readonly holt_damped: MaybeError<EtsRecord>;
  readonly hw_additive: MaybeError<EtsRecord>;
  readonly hw_multiplicative: MaybeError<EtsRecord>;
  readonly thetaf: MaybeError<Band & { alpha: number; drift: number; sigma2: number; seasonal: boolean }>;
  readonly croston: MaybeError<{ mean: number[]; fitted: (number | null)[]; alpha: number }>;
  readonly naive: MaybeError<Band>;
  readonly snaive: MaybeError<Band>;
  readonly meanf: MaybeError<Band>;
}

const fixtures: Fixture[] = readdirSync(FIXTURES)
  .filter((f) => f.endsWith(".json") && f !== "index.json")
  .sort()
  .map((f) => JSON.parse(readFileSync(FIXTURES + f, "utf8")) as Fixture);

function isError<T extends object>(r: MaybeError<T>): r is { readonly error: string } {
  return "error" in r;
}

function fitOk(spec: MethodSpec, fx: Fixture): FittedModel {
  const r = fitModel(spec, Float64Array.from(fx.y), { period: fx.period, distribution: "analytic" });
  if (!r.ok) throw new Error(`${fx.id} ${JSON.stringify(spec)}: ${r.error.message}`);
  return r.value;
}

/** Largest difference relative to the forecast's scale (its size or its 95 % half-width). */
function maxScaledDiff(ours: ArrayLike<number>, theirs: number[], ref: Band): number {
  let worst = 0;
  for (let i = 0; i < theirs.length; i++) {
    const halfWidth = ref.upper95 ? Math.abs((ref.upper95[i] as number) - (ref.mean[i] as number)) : 0;
    const scale = Math.max(Math.abs(ref.mean[i] as number), halfWidth, 1e-9);
    worst = Math.max(worst, Math.abs((ours[i] as number) - (theirs[i] as number)) / scale);
  }
  return worst;
}

function expectBand(
  mean: ArrayLike<number>,
  sd: ArrayLike<number>,
  ref: Band,
  tol: number,
  what: string,
): void {
  expect(maxScaledDiff(mean, ref.mean, ref), `${what} mean`).toBeLessThanOrEqual(tol);
  if (!ref.lower80 || !ref.upper80 || !ref.lower95 || !ref.upper95) return;
  const bands: [number[], number][] = [
    [ref.lower80, 0.1],
    [ref.upper80, 0.9],
    [ref.lower95, 0.025],
    [ref.upper95, 0.975],
  ];
  for (const [values, level] of bands) {
    const z = qnorm(level);
    const ours = Array.from(mean, (m, i) => m + z * (sd[i] as number));
    expect(maxScaledDiff(ours, values, ref), `${what} ${level} quantile`).toBeLessThanOrEqual(tol);
  }
}

function expectModelBand(model: FittedModel, ref: Band, tol: number, what: string): void {
  const h = ref.mean.length;
  const fc = model.forecast(h, { quantiles: [0.1, 0.9, 0.025, 0.975] });
  expect(maxScaledDiff(fc.mean, ref.mean, ref), `${what} mean`).toBeLessThanOrEqual(tol);
  if (!ref.lower80 || !ref.upper80 || !ref.lower95 || !ref.upper95) return;
  const pairs: [number, number[]][] = [
    [0.1, ref.lower80],
    [0.9, ref.upper80],
    [0.025, ref.lower95],
    [0.975, ref.upper95],
  ];
  for (const [level, values] of pairs) {
    expect(
      maxScaledDiff(fc.quantiles.get(level) as Float64Array, values, ref),
      `${what} ${level}`,
    ).toBeLessThanOrEqual(tol);
  }
}

/** Compares an ETS fit with R's, reproducing R's variance formula (see EtsForecastOptions). */
function expectEts(model: FittedModel, ref: EtsRecord, what: string): void {
  const core = model.toState().core;
  if (core.kind !== "ets") throw new Error(`${what}: not an ETS model`);
  const [e, t, s, damped] = ref.components;
  expect(model.label, what).toBe(`ETS(${e},${t}${damped === "TRUE" ? "d" : ""},${s})`);
  const converged = ref.optimizer?.fail === 0;
  const aicc = model.info.aicc as number;
  if (!converged) {
    // Stopped at the evaluation budget: the optimum reached depends on the exact path; require a fit as good.
    expect(Math.abs(aicc - ref.aicc) / Math.abs(ref.aicc), `${what} AICc`).toBeLessThanOrEqual(STOPPED_AICC);
    return;
  }
  expect(Math.abs(aicc - ref.aicc), `${what} AICc`).toBeLessThanOrEqual(
    CONVERGED * Math.max(1, Math.abs(ref.aicc)),
  );
  for (const [name, value] of Object.entries(ref.par)) {
    const ours = model.info.params[name];
    expect(ours, `${what} ${name}`).toBeDefined();
    expect(Math.abs((ours as number) - value), `${what} ${name}`).toBeLessThanOrEqual(
      CONVERGED * Math.max(1, Math.abs(value)),
    );
  }
  const fc = etsForecast(core, ref.mean.length, { rCompatibleVariance: true });
  expectBand(fc.mean, Array.from(fc.variance, Math.sqrt), ref, CONVERGED, what);
}

function etsSpec(model: string): MethodSpec {
  // R's fixture fits pass damped explicitly, so "AAN" is the undamped model only.
  return { method: "ets", model, damped: model.includes("d") };
}

describe.each(fixtures.map((f) => [`${f.source} ${f.id} (m=${f.period}, n=${f.y.length})`, f] as const))(
  "R agreement: %s",
  (_, fx) => {
    it("automatic ETS: every candidate's AICc and the selection", () => {
      const model = fitOk({ method: "ets" }, fx);
      const ours = new Map((model.info.candidates ?? []).map((c) => [c.model, c.ic]));
      expect([...ours.keys()].sort()).toEqual(fx.ets_candidates.map((c) => c.model).sort());
      for (const c of fx.ets_candidates) {
        const mine = ours.get(c.model);
        if (c.aicc === null) {
          expect(mine, c.model).toBeNull();
          continue;
        }
        expect(mine, c.model).not.toBeNull();
        const tol =
          c.optimizer?.fail === 0
            ? CONVERGED * Math.max(1, Math.abs(c.aicc))
            : STOPPED_AICC * Math.abs(c.aicc);
        expect(Math.abs((mine as number) - c.aicc), c.model).toBeLessThanOrEqual(tol);
      }
      const ref = fx.ets_auto;
      if (isError(ref)) throw new Error(`R failed: ${ref.error}`);
      if (model.label === ref.method) {
        expectEts(model, ref, "auto");
      } else {
        const code = (label: string) => label.replace(/^ETS\(|\)$|,/g, "");
        const rAicc = new Map(fx.ets_candidates.map((c) => [c.model, c.aicc]));
        const diff = Math.abs(
          (rAicc.get(code(model.label)) as number) - (rAicc.get(code(ref.method)) as number),
        );
        expect(diff, `selected ${model.label}, R ${ref.method}`).toBeLessThanOrEqual(SELECTION_AICC);
      }
    });

    it("ETS with fixed components", () => {
      for (const [code, ref] of Object.entries(fx.ets_fixed)) {
        const r = fitModel(etsSpec(code), Float64Array.from(fx.y), {
          period: fx.period,
          distribution: "analytic",
        });
        if (isError(ref)) {
          expect(r.ok, code).toBe(false);
          continue;
        }
        if (!r.ok) throw new Error(`${code}: ${r.error.message}`);
        expectEts(r.value, ref, code);
      }
    });

    it("ses, holt, damped holt and Holt-Winters", () => {
      const cases: [MethodSpec, MaybeError<EtsRecord>][] = [
        [{ method: "ses" }, fx.ses],
        [{ method: "holt" }, fx.holt],
        [{ method: "damped-holt" }, fx.holt_damped],
        [{ method: "hw-additive" }, fx.hw_additive],
        [{ method: "hw-multiplicative" }, fx.hw_multiplicative],
      ];
      for (const [spec, ref] of cases) {
        const r = fitModel(spec, Float64Array.from(fx.y), { period: fx.period, distribution: "analytic" });
        if (isError(ref)) {
          expect(r.ok, spec.method).toBe(false);
          continue;
        }
        if (!r.ok) throw new Error(`${spec.method}: ${r.error.message}`);
        expectEts(r.value, ref, spec.method);
      }
    });

    it("theta", () => {
      const ref = fx.thetaf;
      if (isError(ref)) throw new Error(ref.error);
      const model = fitOk({ method: "theta" }, fx);
      expect(model.label.includes("seasonally"), "seasonality test").toBe(ref.seasonal);
      expect(model.info.params.alpha).toBeCloseTo(ref.alpha, 8);
      expect(Math.abs((model.info.params.drift as number) - ref.drift)).toBeLessThanOrEqual(
        EXACT * Math.max(1, Math.abs(ref.drift)),
      );
      expectModelBand(model, ref, EXACT, "theta");
    });

    it("croston (alpha 0.1): forecasts and in-sample fits", () => {
      const ref = fx.croston;
      if (isError(ref)) throw new Error(ref.error);
      const model = fitOk({ method: "croston", alpha: ref.alpha }, fx);
      const fc = model.forecast(ref.mean.length);
      for (let i = 0; i < ref.mean.length; i++) {
        expect(Math.abs((fc.mean[i] as number) - (ref.mean[i] as number))).toBeLessThanOrEqual(
          EXACT * Math.max(1, Math.abs(ref.mean[i] as number)),
        );
      }
      const fitted = model.fitted as Float64Array;
      ref.fitted.forEach((v, i) => {
        if (v === null) expect(Number.isNaN(fitted[i])).toBe(true);
        else
          expect(Math.abs((fitted[i] as number) - v)).toBeLessThanOrEqual(EXACT * Math.max(1, Math.abs(v)));
      });
    });

    it("naive, seasonal naive and mean with their intervals", () => {
      const cases: [MethodSpec, MaybeError<Band>][] = [
        [{ method: "naive" }, fx.naive],
        [{ method: "snaive" }, fx.snaive],
        [{ method: "mean" }, fx.meanf],
      ];
      for (const [spec, ref] of cases) {
        if (isError(ref)) throw new Error(ref.error);
        expectModelBand(fitOk(spec, fx), ref, EXACT, spec.method);
      }
    });
  },
);
