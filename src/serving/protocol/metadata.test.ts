import { describe, expect, it } from "vitest";
import {
  checkInputsAgainstModel,
  datatypeFromOnnxType,
  encodeModelMetadata,
  encodeServerMetadata,
  errorBody,
  ONNX_TYPE_BY_DATATYPE,
  type TensorMetadata,
} from "./metadata.js";
import { ProtocolError } from "./protocol-error.js";
import { DATATYPES, type Tensor } from "./tensor.js";

describe("metadata", () => {
  it("encodes server metadata with each extension once", () => {
    expect(
      encodeServerMetadata({
        name: "skala",
        version: "0.1.0",
        extensions: ["model_repository", "model_repository"],
      }),
    ).toEqual({ name: "skala", version: "0.1.0", extensions: ["model_repository"] });
  });

  it("encodes model metadata with -1 for every variable dimension", () => {
    const metadata = encodeModelMetadata({
      name: "m",
      versions: ["1", "2"],
      platform: "onnxruntime_onnx",
      inputs: [{ name: "x", datatype: "FP32", shape: ["batch", 4, null, undefined, -1] }],
      outputs: [{ name: "y", datatype: "INT64", shape: [1] }],
    });
    expect(metadata).toEqual({
      name: "m",
      versions: ["1", "2"],
      platform: "onnxruntime_onnx",
      inputs: [{ name: "x", datatype: "FP32", shape: [-1, 4, -1, -1, -1] }],
      outputs: [{ name: "y", datatype: "INT64", shape: [1] }],
    });
    expect("versions" in encodeModelMetadata({ name: "m", platform: "p", inputs: [], outputs: [] })).toBe(
      false,
    );
  });

  it("writes the error body", () => {
    expect(errorBody("boom")).toEqual({ error: "boom" });
    expect(new ProtocolError("MODEL_NOT_READY", "not ready").toBody()).toEqual({ error: "not ready" });
  });

  it("maps every datatype to an onnxruntime type and back", () => {
    for (const dt of DATATYPES) expect(datatypeFromOnnxType(ONNX_TYPE_BY_DATATYPE[dt])).toBe(dt);
    expect(datatypeFromOnnxType("bfloat16")).toBeUndefined();
  });
});

describe("checkInputsAgainstModel", () => {
  const declared: TensorMetadata[] = [
    { name: "x", datatype: "FP32", shape: [-1, 3] },
    { name: "k", datatype: "INT64", shape: [1] },
  ];
  const x = (shape: number[], datatype: "FP32" | "FP64" = "FP32"): Tensor =>
    datatype === "FP32"
      ? { name: "x", datatype, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }
      : { name: "x", datatype, shape, data: new Float64Array(shape.reduce((a, b) => a * b, 1)) };
  const k: Tensor = { name: "k", datatype: "INT64", shape: [1], data: new BigInt64Array(1) };

  it("accepts matching inputs, with -1 matching any size", () => {
    expect(() => checkInputsAgainstModel([x([5, 3]), k], declared)).not.toThrow();
    expect(() => checkInputsAgainstModel([k, x([0, 3])], declared)).not.toThrow();
  });

  it("rejects missing, unknown, mistyped and misshapen inputs", () => {
    expect(() => checkInputsAgainstModel([x([1, 3])], declared)).toThrow('input "k" is missing');
    const z: Tensor = { name: "z", datatype: "BOOL", shape: [0], data: new Uint8Array() };
    expect(() => checkInputsAgainstModel([x([1, 3]), k, z], declared)).toThrow(
      'unknown input "z"; the model takes "x", "k"',
    );
    expect(() => checkInputsAgainstModel([x([1, 3], "FP64"), k], declared)).toThrow(
      'input "x": datatype is FP64, the model expects FP32',
    );
    expect(() => checkInputsAgainstModel([x([1, 4]), k], declared)).toThrow(
      "shape [1,4] does not match the model's [-1,3]",
    );
    expect(() => checkInputsAgainstModel([x([3]), k], declared)).toThrow("does not match");
  });
});
