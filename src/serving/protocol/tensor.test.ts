import { describe, expect, it } from "vitest";
import { ProtocolError } from "./protocol-error.js";
import { DATATYPES, type Datatype, decodeTensor, encodeTensor, type Tensor } from "./tensor.js";

function decode(
  datatype: string,
  shape: unknown,
  data: unknown,
  extra: Record<string, unknown> = {},
): Tensor {
  return decodeTensor({ name: "x", datatype, shape, data, ...extra });
}

function failure(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return error as ProtocolError;
  }
  throw new Error("expected a ProtocolError");
}

function rejects(datatype: string, shape: unknown, data: unknown, message: string | RegExp): void {
  const error = failure(() => decode(datatype, shape, data));
  expect(error.code).toBe("INFER_REQUEST_INVALID");
  expect(error.message).toMatch(message);
}

const INTEGER_RANGES: [Datatype, number, number][] = [
  ["UINT8", 0, 255],
  ["UINT16", 0, 65535],
  ["UINT32", 0, 4294967295],
  ["INT8", -128, 127],
  ["INT16", -32768, 32767],
  ["INT32", -2147483648, 2147483647],
];

describe("integer datatypes", () => {
  it.each(INTEGER_RANGES)("%s accepts its full range", (datatype, min, max) => {
    const t = decode(datatype, [3], [min, 0, max]);
    expect(t.datatype).toBe(datatype);
    expect(Array.from(t.data as ArrayLike<number>)).toEqual([min, 0, max]);
  });

  it.each(INTEGER_RANGES)("%s rejects values just outside the range", (datatype, min, max) => {
    rejects(
      datatype,
      [1],
      [max + 1],
      new RegExp(`element \\[0\\] is ${max + 1}, outside the ${datatype} range`),
    );
    rejects(datatype, [1], [min - 1], `outside the ${datatype} range [${min}, ${max}]`);
  });

  it.each(INTEGER_RANGES)("%s rejects fractions, strings, booleans and null", (datatype) => {
    const article = datatype.startsWith("INT") ? "an" : "a";
    rejects(datatype, [2], [1, 2.5], `input "x": element [1] is 2.5, not ${article} ${datatype}`);
    rejects(datatype, [1], ["1"], `element [0] is "1", not ${article} ${datatype}`);
    rejects(datatype, [1], [true], "element [0] is true");
    rejects(datatype, [1], [null], "element [0] is null");
  });

  it("stores each integer type in its own typed array", () => {
    expect(decode("UINT8", [1], [1]).data).toBeInstanceOf(Uint8Array);
    expect(decode("UINT16", [1], [1]).data).toBeInstanceOf(Uint16Array);
    expect(decode("UINT32", [1], [1]).data).toBeInstanceOf(Uint32Array);
    expect(decode("INT8", [1], [1]).data).toBeInstanceOf(Int8Array);
    expect(decode("INT16", [1], [1]).data).toBeInstanceOf(Int16Array);
    expect(decode("INT32", [1], [1]).data).toBeInstanceOf(Int32Array);
  });

  it("names the nested element path", () => {
    rejects(
      "INT32",
      [3, 2],
      [
        [1, 2],
        [3, 4],
        [5, 3.5],
      ],
      'input "x": element [2][1] is 3.5, not an INT32',
    );
  });
});

describe("INT64 and UINT64", () => {
  it("accepts safe JSON numbers", () => {
    const t = decode("INT64", [3], [-9007199254740991, 0, 9007199254740991]);
    expect(t.data).toBeInstanceOf(BigInt64Array);
    expect(Array.from(t.data as BigInt64Array)).toEqual([-9007199254740991n, 0n, 9007199254740991n]);
  });

  it("rejects JSON numbers beyond 2^53 - 1, which JSON.parse has already rounded", () => {
    const body = JSON.parse('{"name":"x","datatype":"INT64","shape":[1],"data":[9007199254740993]}');
    const error = failure(() => decodeTensor(body));
    expect(error.message).toMatch("element [0] is 9007199254740992, beyond ±(2^53−1)");
    expect(error.message).toMatch("decimal strings");
    rejects("UINT64", [1], [2 ** 60], "beyond ±(2^53−1)");
    rejects("INT64", [1], [-(2 ** 60)], "beyond ±(2^53−1)");
  });

  it("accepts exact decimal strings up to the type's limits", () => {
    const t = decode("INT64", [4], ["9223372036854775807", "-9223372036854775808", "9007199254740993", "-0"]);
    expect(Array.from(t.data as BigInt64Array)).toEqual([
      2n ** 63n - 1n,
      -(2n ** 63n),
      9007199254740993n,
      0n,
    ]);
    const u = decode("UINT64", [2], ["18446744073709551615", 7]);
    expect(u.data).toBeInstanceOf(BigUint64Array);
    expect(Array.from(u.data as BigUint64Array)).toEqual([2n ** 64n - 1n, 7n]);
  });

  it("rejects strings out of range or not plain decimals", () => {
    rejects("INT64", [1], ["9223372036854775808"], "outside the INT64 range");
    rejects("INT64", [1], ["-9223372036854775809"], "outside the INT64 range");
    rejects("UINT64", [1], ["18446744073709551616"], "outside the UINT64 range");
    rejects("UINT64", [1], [-1], "outside the UINT64 range");
    rejects("UINT64", [1], ["-1"], "outside the UINT64 range");
    for (const bad of ["0x10", "1e3", " 1", "01", "1.0", "", "+1", "123456789012345678901234"]) {
      rejects("INT64", [1], [bad], "not an INT64");
    }
    rejects("INT64", [1], [1.5], "not an INT64");
  });

  it("encodes safe values as numbers and larger ones as exact strings", () => {
    const t = decode("INT64", [3], ["9007199254740993", "-5", 9007199254740991]);
    expect(encodeTensor(t).data).toEqual(["9007199254740993", -5, 9007199254740991]);
    const u = decode("UINT64", [1], ["18446744073709551615"]);
    expect(encodeTensor(u).data).toEqual(["18446744073709551615"]);
  });
});

describe("floating-point datatypes", () => {
  it("FP32 rounds to single precision", () => {
    const t = decode("FP32", [2], [0.1, -3]);
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(Array.from(t.data as Float32Array)).toEqual([Math.fround(0.1), -3]);
  });

  it("FP64 keeps doubles exactly", () => {
    const t = decode("FP64", [2], [0.1, 1e300]);
    expect(t.data).toBeInstanceOf(Float64Array);
    expect(Array.from(t.data as Float64Array)).toEqual([0.1, 1e300]);
  });

  it("FP16 rounds to half precision and is stored in a Float32Array", () => {
    const t = decode("FP16", [4], [0.1, 65504, -2.5, 1e-8]);
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(Array.from(t.data as Float32Array)).toEqual([0.0999755859375, 65504, -2.5, 0]);
  });

  it("rejects finite numbers that overflow the precision", () => {
    rejects("FP16", [1], [70000], "element [0] is 70000, outside the FP16 range (±65504)");
    rejects("FP32", [1], [1e39], "outside the FP32 range");
  });

  it.each(["FP16", "FP32", "FP64"])("%s accepts the NaN and Infinity strings and round-trips them", (dt) => {
    const t = decode(dt, [3], ["NaN", "Infinity", "-Infinity"]);
    const values = Array.from(t.data as Float32Array | Float64Array);
    expect(values[0]).toBeNaN();
    expect(values.slice(1)).toEqual([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    expect(encodeTensor(t).data).toEqual(["NaN", "Infinity", "-Infinity"]);
  });

  it.each(["FP16", "FP32", "FP64"])("%s rejects other strings, booleans and null", (dt) => {
    rejects(dt, [1], ["nan"], `element [0] is "nan", not an ${dt}`);
    rejects(dt, [1], ["1.5"], `not an ${dt}`);
    rejects(dt, [1], [false], `not an ${dt}`);
    rejects(dt, [1], [null], `not an ${dt}`);
  });
});

describe("BOOL", () => {
  it("accepts true and false and stores 1 and 0", () => {
    const t = decode("BOOL", [2], [true, false]);
    expect(t.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(t.data as Uint8Array)).toEqual([1, 0]);
    expect(encodeTensor(t).data).toEqual([true, false]);
  });

  it("rejects 0/1 and strings", () => {
    rejects("BOOL", [1], [1], "element [0] is 1, not a BOOL (true or false)");
    rejects("BOOL", [1], [0], "not a BOOL");
    rejects("BOOL", [1], ["true"], "not a BOOL");
  });
});

describe("BYTES", () => {
  it("accepts strings as they are, including unicode and base64 text", () => {
    const t = decode("BYTES", [3], ["héllo", "", "aGVsbG8="]);
    expect(t.data).toEqual(["héllo", "", "aGVsbG8="]);
    expect(encodeTensor(t).data).toEqual(["héllo", "", "aGVsbG8="]);
  });

  it("rejects non-strings", () => {
    rejects("BYTES", [1], [1], "element [0] is 1, not a BYTES element");
    rejects("BYTES", [1], [null], "not a BYTES element");
    rejects("BYTES", [2, 1], [["a"], [{}]], "element [1][0] is an object, not a BYTES element");
  });
});

describe("shape and layout", () => {
  it("accepts flat and nested data as the same row-major tensor", () => {
    const flat = decode("INT32", [2, 3], [1, 2, 3, 4, 5, 6]);
    const nested = decode(
      "INT32",
      [2, 3],
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
    );
    expect(nested.data).toEqual(flat.data);
    const deep = decode("FP64", [2, 1, 2], [[[1, 2]], [[3, 4]]]);
    expect(Array.from(deep.data as Float64Array)).toEqual([1, 2, 3, 4]);
  });

  it("rejects a count that does not match the shape", () => {
    rejects("INT32", [2, 3], [1, 2, 3, 4, 5], 'input "x": data holds 5 elements but shape [2,3] needs 6');
    rejects("INT32", [2], [1, 2, 3], "data holds 3 elements but shape [2] needs 2");
  });

  it("rejects nested data that does not match the shape at every level", () => {
    rejects("INT32", [2, 3], [[1, 2, 3]], "data has 1 elements where shape [2,3] needs 2");
    rejects(
      "INT32",
      [2, 3],
      [
        [1, 2, 3],
        [4, 5],
      ],
      "data[1] has 2 elements where shape [2,3] needs 3",
    );
    rejects("INT32", [2, 3], [[1, 2, 3], 4], "data[1] is 4, expected an array of 3");
    rejects(
      "INT32",
      [2, 2],
      [
        [1, [2]],
        [3, 4],
      ],
      "element [0][1] is an array, but shape [2,2] ends here",
    );
    rejects("INT32", [4], [1, [2], 3, 4], "element [1] is an array, but data must be flat or nested");
    rejects("INT32", [2, 2], [1, 2, 3, [4]], "element [3] is an array");
  });

  it("accepts empty tensors with a 0 dimension, flat or nested", () => {
    expect(decode("FP32", [0], []).data.length).toBe(0);
    expect(decode("FP32", [2, 0], [[], []]).data.length).toBe(0);
    expect(decode("FP32", [2, 0], []).shape).toEqual([2, 0]);
    expect(decode("BYTES", [0, 3], []).data).toEqual([]);
    rejects("FP32", [2, 0], [[], [1]], "data[1] has 1 elements where shape [2,0] needs 0");
    expect(encodeTensor(decode("INT64", [3, 0], [])).data).toEqual([]);
  });

  it("treats shape [] as a scalar with one element", () => {
    expect(Array.from(decode("INT8", [], [5]).data as Int8Array)).toEqual([5]);
    rejects("INT8", [], [], "data holds 0 elements but shape [] needs 1");
  });

  it("rejects negative, fractional and non-numeric dimensions", () => {
    rejects("FP32", [-1, 2], [], 'input "x": shape[0] is -1; dimensions must be non-negative integers');
    rejects("FP32", [1.5], [1], "shape[0] is 1.5");
    rejects("FP32", ["2"], [1, 2], 'shape[0] is "2"');
    rejects("FP32", [2 ** 53], [], "shape[0] is 9007199254740992");
    rejects("FP32", "2", [1, 2], 'shape is "2"; expected an array');
  });

  it("bounds the rank and the element count before allocating", () => {
    rejects("FP32", new Array(17).fill(1), [1], "shape has 17 dimensions, more than the 16 allowed");
    rejects("FP64", [1 << 20, 1 << 20], [], "holds more than the 16777216 elements allowed");
    const small = { maxRank: 2, maxElements: 4, maxNameLength: 8 };
    expect(() =>
      decodeTensor({ name: "x", datatype: "FP32", shape: [5], data: [1, 2, 3, 4, 5] }, 0, small),
    ).toThrow("more than the 4 elements allowed");
    expect(() =>
      decodeTensor({ name: "x", datatype: "FP32", shape: [1, 1, 1], data: [1] }, 0, small),
    ).toThrow("more than the 2 allowed");
    expect(() =>
      decodeTensor({ name: "123456789", datatype: "FP32", shape: [1], data: [1] }, 0, small),
    ).toThrow("name is longer than 8 characters");
    // A huge dimension next to a 0 is an empty tensor, not an overflow.
    expect(decode("FP32", [2 ** 52, 0], []).data.length).toBe(0);
  });

  it("refuses a small nested body that claims a huge shape without allocating it", () => {
    rejects(
      "FP64",
      [1, 16 * 1024 * 1024],
      [[1]],
      "data[0] has 1 elements where shape [1,16777216] needs 16777216",
    );
  });
});

describe("input object", () => {
  it("knows every datatype and rejects others", () => {
    for (const dt of DATATYPES) expect(decode(dt, [0], []).datatype).toBe(dt);
    rejects("FLOAT32", [1], [1], 'input "x": datatype is "FLOAT32"; expected one of BOOL, UINT8');
    rejects("fp32", [1], [1], "datatype is");
  });

  it("rejects unknown fields, missing names and non-array data", () => {
    expect(() => decode("FP32", [1], [1], { dtype: "x" })).toThrow('input "x": unknown field "dtype"');
    expect(() => decodeTensor({ shape: [1], datatype: "FP32", data: [1] }, 3)).toThrow(
      "inputs[3].name is missing; expected a non-empty string",
    );
    expect(() => decodeTensor({ name: "", shape: [1], datatype: "FP32", data: [1] })).toThrow(
      "inputs[0].name",
    );
    rejects("FP32", [1], 1, 'input "x": data is 1; expected an array');
    rejects("FP32", [1], undefined, "data is missing");
    expect(() => decodeTensor([1])).toThrow("inputs[0] is an array; expected an object");
  });

  it("keeps scalar parameters and rejects the binary and shared-memory extensions", () => {
    const t = decode("FP32", [1], [1], { parameters: { content_type: "np", n: 2, b: true } });
    expect(t.parameters).toEqual({ content_type: "np", n: 2, b: true });
    expect(() => decode("FP32", [1], undefined, { parameters: { binary_data_size: 4 } })).toThrow(
      'input "x": parameter "binary_data_size": the binary tensor data extension is not supported',
    );
    expect(() => decode("FP32", [1], [1], { parameters: { shared_memory_region: "r" } })).toThrow(
      "shared-memory extension is not supported",
    );
    expect(() => decode("FP32", [1], [1], { parameters: { nested: { a: 1 } } })).toThrow(
      'parameter "nested" is an object; parameter values are strings, numbers or booleans',
    );
    expect(() => decode("FP32", [1], [1], { parameters: [] })).toThrow("parameters is an array");
  });
});

describe("encodeTensor", () => {
  it("writes flat data and copies shape and parameters", () => {
    const tensor: Tensor = {
      name: "y",
      datatype: "FP32",
      shape: [2, 2],
      data: new Float32Array([1, 2, 3, 4]),
    };
    expect(encodeTensor(tensor)).toEqual({ name: "y", datatype: "FP32", shape: [2, 2], data: [1, 2, 3, 4] });
  });

  it("fails with 500 when the server's own shape and data disagree", () => {
    const tensor: Tensor = { name: "y", datatype: "INT32", shape: [3], data: new Int32Array(2) };
    const error = failure(() => encodeTensor(tensor));
    expect(error.code).toBe("MODEL_FAILED");
    expect(error.message).toBe('output "y": data holds 2 elements but shape [3] needs 3');
    expect(failure(() => encodeTensor({ ...tensor, shape: [-1] })).code).toBe("MODEL_FAILED");
  });
});
