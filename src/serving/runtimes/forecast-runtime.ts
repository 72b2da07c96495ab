import { jsonSyntaxError } from "../../core/index.js";
import {
  checkState,
  type FittedModel,
  type FittedState,
  fitModel,
  type MethodSpec,
  restoreModel,
} from "../../forecasting/index.js";
import { ProtocolError, type Tensor } from "../protocol/index.js";
import {
  type InferOptions,
  InvalidArtifactError,
  type LoadedModel,
  type LoadedModelMetadata,
  type LoadOptions,
  type ModelRuntime,
  type TensorMeta,
} from "./runtime.js";
import { checkAbort, checkOutputNames, pickOutputs, quote } from "./runtime-support.js";

/**
 * `skala.forecast`: serves the JSON artifacts a fleet registers (`{ format: "skala.forecast/v1", state,
 * horizon, period, quantiles }`, see fleets/fleet-runner.ts). Forecasting a restored model takes
 * microseconds, so it runs in-process on the calling thread; only the optional history refit costs more,
 * and the history length is capped to keep that bounded.
 */

export const FORECAST_FORMAT = "skala.forecast/v1";
export const FORECAST_PLATFORM = "skala.forecast";
export const MAX_FORECAST_HORIZON = 1000;
/** Longest history accepted for a refit: automatic ETS on this many points stays in the low milliseconds. */
export const MAX_FORECAST_HISTORY = 10_000;

export const FORECAST_INPUT_HORIZON = "horizon";
export const FORECAST_INPUT_HISTORY = "history";
export const FORECAST_OUTPUT_MEAN = "mean";
export const FORECAST_OUTPUT_QUANTILES = "quantiles";
export const FORECAST_OUTPUT_LEVELS = "quantile_levels";

/** The artifact a fleet registers for each forecasting model version. */
export interface ForecastArtifact {
  format: typeof FORECAST_FORMAT;
  state: FittedState;
  /** The horizon the fleet validated the model for; informative only, requests pick their own. */
  horizon: number;
  period: number;
  /** Quantile levels every forecast carries, strictly between 0 and 1. */
  quantiles: number[];
}

export interface ForecastRuntimeOptions {
  /** Multiplies the artifact's JSON size into the cache's memory estimate (parsed JSON plus the model). */
  sizeFactor?: number;
}

function modelFailure(message: string, cause?: unknown): ProtocolError {
  return new ProtocolError("MODEL_FAILED", message, cause === undefined ? undefined : { cause });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Decodes an artifact and checks its fields and its fitted state without restoring the model: a JSON parse and
 * a walk over the state, tens of microseconds, so registration runs it on the main thread for every version a
 * fleet registers. Anything wrong is the artifact's fault (an InvalidArtifactError, 500), never the client's.
 */
function checkForecastArtifact(
  bytes: Uint8Array,
): Omit<ForecastArtifact, "format" | "state"> & { state: unknown } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    // V8's message quotes the bytes; the position alone says where.
    const position = jsonSyntaxError(error).position;
    throw new InvalidArtifactError(
      `forecast artifact is not UTF-8 JSON${position === undefined ? "" : ` (at character ${position + 1})`}`,
      { cause: error },
    );
  }
  const invalid = (message: string) => new InvalidArtifactError(`forecast artifact: ${message}`);
  if (!isRecord(parsed)) throw invalid("not a JSON object");
  if (parsed.format !== FORECAST_FORMAT) {
    throw invalid(`format is ${quote(parsed.format)}; expected "${FORECAST_FORMAT}"`);
  }
  const { horizon, period, quantiles, state } = parsed;
  if (typeof horizon !== "number" || !Number.isInteger(horizon) || horizon < 1) {
    throw invalid("horizon must be a positive integer");
  }
  if (typeof period !== "number" || !Number.isInteger(period) || period < 1) {
    throw invalid("period must be a positive integer");
  }
  if (
    !Array.isArray(quantiles) ||
    !quantiles.every((q): q is number => typeof q === "number" && q > 0 && q < 1)
  ) {
    throw invalid("quantiles must be an array of levels strictly between 0 and 1");
  }
  const problem = checkState(state);
  if (problem !== undefined) throw invalid(problem);
  return { horizon, period, quantiles, state };
}

/** Parses, checks and restores an artifact; anything wrong with it is an InvalidArtifactError. */
export function parseForecastArtifact(bytes: Uint8Array): { artifact: ForecastArtifact; model: FittedModel } {
  const { horizon, period, quantiles, state } = checkForecastArtifact(bytes);
  const restored = restoreModel(state);
  if (!restored.ok) throw new InvalidArtifactError(`forecast artifact: ${restored.error.message}`);
  const model = restored.value;
  return {
    artifact: { format: FORECAST_FORMAT, state: model.toState(), horizon, period, quantiles },
    model,
  };
}

/**
 * The method spec a history refit uses: the same method and the same structure the original fit chose (the
 * ETS form it selected, so "ZZZ" does not re-select on a short window), with smoothing parameters estimated
 * again on the new history. Croston/SBA/TSB parameters are never estimated, only fixed, so they are kept.
 */
export function refitSpec(state: FittedState): MethodSpec {
  const params = state.info.params;
  switch (state.method) {
    case "ets": {
      if (state.core.kind !== "ets") return { method: "ets" };
      const { error, trend, damped, season } = state.core;
      return { method: "ets", model: `${error}${trend}${damped ? "d" : ""}${season}` };
    }
    case "croston":
    case "sba":
      return params.alpha === undefined
        ? { method: state.method }
        : { method: state.method, alpha: params.alpha };
    case "tsb":
      return {
        method: "tsb",
        ...(params.alpha === undefined ? {} : { alpha: params.alpha }),
        ...(params.beta === undefined ? {} : { beta: params.beta }),
      };
    case "naive":
    case "snaive":
    case "mean":
    case "ses":
    case "holt":
    case "damped-holt":
    case "hw-additive":
    case "hw-multiplicative":
    case "theta":
    case "adida":
      return { method: state.method };
    default: {
      const unhandled: never = state.method;
      throw modelFailure(`forecast artifact: unknown method ${quote(unhandled)}`);
    }
  }
}

function readHorizon(tensor: Tensor): number {
  if (tensor.datatype !== "INT32" && tensor.datatype !== "INT64") {
    throw new ProtocolError(
      "INFER_REQUEST_INVALID",
      `input "horizon": datatype is ${tensor.datatype}, expected INT32 or INT64`,
    );
  }
  if (tensor.shape.length !== 1 || tensor.shape[0] !== 1) {
    throw new ProtocolError(
      "INFER_REQUEST_INVALID",
      `input "horizon": shape [${tensor.shape.join(",")}] must be [1]`,
    );
  }
  const raw = tensor.data[0];
  const h = typeof raw === "bigint" ? Number(raw) : (raw ?? 0);
  if (!Number.isInteger(h) || h < 1 || h > MAX_FORECAST_HORIZON) {
    throw new ProtocolError(
      "INFER_REQUEST_INVALID",
      `input "horizon": ${String(raw)} is outside 1..${MAX_FORECAST_HORIZON}`,
    );
  }
  return h;
}

function readHistory(tensor: Tensor): Float64Array {
  if (tensor.datatype !== "FP64" && tensor.datatype !== "FP32") {
    throw new ProtocolError(
      "INFER_REQUEST_INVALID",
      `input "history": datatype is ${tensor.datatype}, expected FP64 or FP32`,
    );
  }
  if (tensor.shape.length !== 1) {
    throw new ProtocolError(
      "INFER_REQUEST_INVALID",
      `input "history": shape [${tensor.shape.join(",")}] must be [n]`,
    );
  }
  if (tensor.data.length > MAX_FORECAST_HISTORY) {
    throw new ProtocolError(
      "INFER_REQUEST_INVALID",
      `input "history": ${tensor.data.length} values, more than the ${MAX_FORECAST_HISTORY} allowed`,
    );
  }
  return Float64Array.from(tensor.data);
}

class LoadedForecast implements LoadedModel {
  private loaded = true;
  private readonly meta: LoadedModelMetadata;

  constructor(
    private readonly key: string,
    private readonly artifact: ForecastArtifact,
    private readonly model: FittedModel,
    readonly sizeBytes: number,
  ) {
    const q = artifact.quantiles.length;
    const tensor = (name: string, datatype: TensorMeta["datatype"], shape: number[]): TensorMeta => ({
      name,
      datatype,
      shape,
    });
    this.meta = {
      platform: FORECAST_PLATFORM,
      // horizon also accepts INT64; metadata can name one datatype, and INT32 is what clients send most.
      // history is optional, which the protocol's metadata cannot say; it is documented in the README.
      inputs: [tensor(FORECAST_INPUT_HORIZON, "INT32", [1]), tensor(FORECAST_INPUT_HISTORY, "FP64", [-1])],
      outputs: [
        tensor(FORECAST_OUTPUT_MEAN, "FP64", [-1]),
        tensor(FORECAST_OUTPUT_QUANTILES, "FP64", [-1, q]),
        tensor(FORECAST_OUTPUT_LEVELS, "FP64", [q]),
      ],
    };
  }

  metadata(): LoadedModelMetadata {
    return structuredClone(this.meta);
  }

  async infer(inputs: readonly Tensor[], options: InferOptions = {}): Promise<Tensor[]> {
    checkAbort(options.signal);
    if (!this.loaded) throw new ProtocolError("MODEL_NOT_READY", `model ${quote(this.key)} is not loaded`);
    checkOutputNames(
      options.outputs,
      this.meta.outputs.map((o) => o.name),
    );
    let horizon: number | undefined;
    let history: Float64Array | undefined;
    const seen = new Set<string>();
    for (const input of inputs) {
      if (seen.has(input.name))
        throw new ProtocolError("INFER_REQUEST_INVALID", `input ${quote(input.name)} is given twice`);
      seen.add(input.name);
      if (input.name === FORECAST_INPUT_HORIZON) horizon = readHorizon(input);
      else if (input.name === FORECAST_INPUT_HISTORY) history = readHistory(input);
      else {
        throw new ProtocolError(
          "INFER_REQUEST_INVALID",
          `unknown input ${quote(input.name)}; the model takes "horizon" and optionally "history"`,
        );
      }
    }
    if (horizon === undefined) throw new ProtocolError("INFER_REQUEST_INVALID", `input "horizon" is missing`);
    const model = history === undefined ? this.model : this.refit(history);
    const levels = this.artifact.quantiles;
    let forecast: ReturnType<FittedModel["forecast"]>;
    try {
      forecast = model.forecast(horizon, { quantiles: levels });
    } catch (error) {
      throw modelFailure(`forecast failed: ${(error as Error).message}`, error);
    }
    // Row-major [h, q]: row t holds every level's quantile for horizon step t + 1.
    const q = levels.length;
    const grid = new Float64Array(horizon * q);
    levels.forEach((level, j) => {
      const column = forecast.quantiles.get(level);
      if (column === undefined) throw modelFailure(`forecast has no quantile ${level}`);
      for (let t = 0; t < horizon; t++) grid[t * q + j] = column[t] as number;
    });
    const produced: Tensor[] = [
      { name: FORECAST_OUTPUT_MEAN, datatype: "FP64", shape: [horizon], data: forecast.mean },
      { name: FORECAST_OUTPUT_QUANTILES, datatype: "FP64", shape: [horizon, q], data: grid },
      { name: FORECAST_OUTPUT_LEVELS, datatype: "FP64", shape: [q], data: Float64Array.from(levels) },
    ];
    return pickOutputs(produced, options.outputs);
  }

  /** Fits the model's method afresh on the client's history; a fit the data cannot support is a 400. */
  private refit(history: Float64Array): FittedModel {
    const state = this.artifact.state;
    const result = fitModel(refitSpec(state), history, {
      period: state.period,
      distribution: state.distribution.kind,
      nonNegative: state.nonNegative ?? false,
    });
    if (!result.ok) {
      const { code, message } = result.error;
      // INVALID_OPTIONS would mean the stored state names something fitModel refuses: the artifact's fault.
      throw new ProtocolError(
        code === "INVALID_OPTIONS" ? "MODEL_FAILED" : "INFER_REQUEST_INVALID",
        `input "history": ${message}`,
      );
    }
    return result.value;
  }

  async unload(): Promise<void> {
    this.loaded = false;
  }
}

export function createForecastRuntime(options: ForecastRuntimeOptions = {}): ModelRuntime {
  const sizeFactor = options.sizeFactor ?? 3;
  return {
    name: "skala.forecast",
    async load(artifact: Uint8Array, loadOptions: LoadOptions): Promise<LoadedModel> {
      checkAbort(loadOptions.signal);
      const { artifact: parsed, model } = parseForecastArtifact(artifact);
      return new LoadedForecast(loadOptions.key, parsed, model, Math.ceil(artifact.byteLength * sizeFactor));
    },
    async validateArtifact(read: () => Promise<Uint8Array>): Promise<string | undefined> {
      try {
        checkForecastArtifact(await read());
        return undefined;
      } catch (error) {
        if (error instanceof InvalidArtifactError) return error.message;
        throw error;
      }
    },
    async close(): Promise<void> {},
  };
}
