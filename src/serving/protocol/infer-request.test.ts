import { describe, expect, it } from "vitest";
import { decodeInferRequest, encodeInferResponse, selectOutputs } from "./infer-request.js";
import { ProtocolError } from "./protocol-error.js";
import type { Tensor } from "./tensor.js";

const input = (name = "x", extra: Record<string, unknown> = {}) => ({
  name,
  shape: [2],
  datatype: "FP32",
  data: [1, 2],
  ...extra,
});

function rejects(body: unknown, message: string, limits = {}): void {
  let caught: unknown;
  try {
    decodeInferRequest(body, limits);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ProtocolError);
  expect((caught as ProtocolError).code).toBe("INFER_REQUEST_INVALID");
  expect((caught as ProtocolError).message).toContain(message);
}

describe("decodeInferRequest", () => {
  it("decodes the specification's example request", () => {
    const request = decodeInferRequest({
      id: "42",
      inputs: [
        { name: "input0", shape: [2, 2], datatype: "UINT32", data: [1, 2, 3, 4] },
        { name: "input1", shape: [3], datatype: "BOOL", data: [true, false, true] },
      ],
      outputs: [{ name: "output0" }],
    });
    expect(request.id).toBe("42");
    expect(request.inputs.map((t) => t.name)).toEqual(["input0", "input1"]);
    expect(request.inputs[0]?.data).toEqual(new Uint32Array([1, 2, 3, 4]));
    expect(request.outputs).toEqual([{ name: "output0" }]);
  });

  it("leaves optional fields out when absent or null", () => {
    const request = decodeInferRequest({ id: null, parameters: null, outputs: null, inputs: [input()] });
    expect(request).toEqual({ inputs: [expect.objectContaining({ name: "x" })] });
    expect("id" in request).toBe(false);
  });

  it("rejects bodies that are not objects", () => {
    rejects(null, "the request body is null; expected a JSON object");
    rejects([], "the request body is an array");
    rejects("x", 'the request body is "x"');
  });

  it("rejects unknown top-level fields", () => {
    rejects({ inputs: [input()], model_name: "m" }, 'unknown field "model_name" in the request body');
  });

  it("needs at least one input and bounds their number", () => {
    rejects({}, "inputs is missing; expected an array");
    rejects({ inputs: [] }, "inputs is empty");
    rejects({ inputs: {} }, "inputs is an object");
    rejects(
      { inputs: [input("a"), input("b"), input("c")] },
      "inputs lists 3 tensors, more than the 2 allowed",
      {
        maxInputs: 2,
      },
    );
  });

  it("rejects duplicate input names", () => {
    rejects({ inputs: [input("a"), input("a")] }, 'input "a" appears more than once');
  });

  it("bounds the element count over all inputs", () => {
    rejects(
      { inputs: [input("a"), input("b")] },
      "the inputs hold more than the 3 elements allowed per request",
      {
        maxTotalElements: 3,
      },
    );
  });

  it("validates id and parameters", () => {
    rejects({ id: 42, inputs: [input()] }, "id is 42; expected a string");
    rejects({ id: "x".repeat(300), inputs: [input()] }, "id is longer than 256 characters");
    rejects({ parameters: "p", inputs: [input()] }, 'request: parameters is "p"');
    rejects(
      { parameters: { binary_data_output: "yes" }, inputs: [input()] },
      '"binary_data_output" is "yes"',
    );
    const request = decodeInferRequest({
      parameters: { binary_data_output: true, priority: 1 },
      inputs: [input()],
    });
    expect(request.parameters).toEqual({ binary_data_output: true, priority: 1 });
  });

  it("validates requested outputs", () => {
    rejects({ inputs: [input()], outputs: {} }, "outputs is an object; expected an array");
    rejects({ inputs: [input()], outputs: ["y"] }, 'outputs[0] is "y"; expected an object');
    rejects({ inputs: [input()], outputs: [{}] }, "outputs[0].name is missing");
    rejects({ inputs: [input()], outputs: [{ name: "y", extra: 1 }] }, 'output "y": unknown field "extra"');
    rejects({ inputs: [input()], outputs: [{ name: "y" }, { name: "y" }] }, 'output "y" is requested twice');
    rejects(
      { inputs: [input()], outputs: [{ name: "y", parameters: { classification: 3 } }] },
      "classification extension is not supported",
    );
    rejects(
      { inputs: [input()], outputs: [{ name: "y", parameters: { binary_data: 1 } }] },
      '"binary_data" is 1',
    );
    const request = decodeInferRequest({
      inputs: [input()],
      outputs: [{ name: "y", parameters: { binary_data: true } }],
    });
    expect(request.outputs).toEqual([{ name: "y", parameters: { binary_data: true } }]);
  });

  it("rejects binary tensor data inputs with a clear message", () => {
    rejects(
      { inputs: [{ name: "x", shape: [2], datatype: "FP32", parameters: { binary_data_size: 8 } }] },
      'input "x": parameter "binary_data_size": the binary tensor data extension is not supported',
    );
  });

  it("reports tensor errors with the input's name", () => {
    rejects(
      { inputs: [input("ok"), input("bad", { data: [1, "a"] })] },
      'input "bad": element [1] is "a", not an FP32',
    );
  });
});

describe("selectOutputs", () => {
  const produced: Tensor[] = [
    { name: "a", datatype: "FP32", shape: [1], data: new Float32Array(1) },
    { name: "b", datatype: "FP32", shape: [1], data: new Float32Array(1) },
  ];

  it("returns everything when nothing was requested, else the requested ones in order", () => {
    expect(selectOutputs(produced, undefined).map((t) => t.name)).toEqual(["a", "b"]);
    expect(selectOutputs(produced, [{ name: "b" }, { name: "a" }]).map((t) => t.name)).toEqual(["b", "a"]);
  });

  it("rejects an unknown output with 400", () => {
    expect(() => selectOutputs(produced, [{ name: "c" }])).toThrow(
      'unknown output "c"; the model produces "a", "b"',
    );
  });
});

describe("encodeInferResponse", () => {
  it("writes the protocol response with flat data", () => {
    const body = encodeInferResponse({
      modelName: "m",
      modelVersion: "3",
      id: "42",
      outputs: [
        {
          name: "output0",
          datatype: "FP32",
          shape: [3, 2],
          data: new Float32Array([1, 1.5, 2, 2.5, 3, 3.5]),
        },
        { name: "ids", datatype: "INT64", shape: [2], data: new BigInt64Array([1n, 2n ** 62n]) },
        { name: "flags", datatype: "BOOL", shape: [1], data: new Uint8Array([1]) },
        { name: "labels", datatype: "BYTES", shape: [1], data: ["cat"] },
      ],
    });
    expect(body).toEqual({
      model_name: "m",
      model_version: "3",
      id: "42",
      outputs: [
        { name: "output0", datatype: "FP32", shape: [3, 2], data: [1, 1.5, 2, 2.5, 3, 3.5] },
        { name: "ids", datatype: "INT64", shape: [2], data: [1, "4611686018427387904"] },
        { name: "flags", datatype: "BOOL", shape: [1], data: [true] },
        { name: "labels", datatype: "BYTES", shape: [1], data: ["cat"] },
      ],
    });
    expect(JSON.parse(JSON.stringify(body))).toEqual(body);
  });

  it("omits model_version and id when there are none", () => {
    const body = encodeInferResponse({ modelName: "m", outputs: [] });
    expect(body).toEqual({ model_name: "m", outputs: [] });
  });
});
