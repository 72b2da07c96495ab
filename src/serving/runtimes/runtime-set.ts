import { createForecastRuntime, type ForecastRuntimeOptions } from "./forecast-runtime.js";
import { createOnnxRuntime, type OnnxRuntime, type OnnxRuntimeOptions } from "./onnx-runtime.js";
import type { ModelRuntime, RuntimeName } from "./runtime.js";

/** Every runtime, keyed by the name a model version's `runtime` field holds. */
export interface RuntimeSet {
  readonly onnx: OnnxRuntime;
  readonly forecast: ModelRuntime;
  get(name: RuntimeName): ModelRuntime;
  close(): Promise<void>;
}

export function createRuntimes(
  options: { onnx?: OnnxRuntimeOptions; forecast?: ForecastRuntimeOptions } = {},
): RuntimeSet {
  const onnx = createOnnxRuntime(options.onnx);
  const forecast = createForecastRuntime(options.forecast);
  return {
    onnx,
    forecast,
    get(name: RuntimeName): ModelRuntime {
      switch (name) {
        case "onnx":
          return onnx;
        case "skala.forecast":
          return forecast;
        default: {
          const unhandled: never = name;
          throw new Error(`unknown runtime ${String(unhandled)}`);
        }
      }
    },
    async close(): Promise<void> {
      await Promise.all([onnx.close(), forecast.close()]);
    },
  };
}
