import { DATATYPES, type Datatype } from "../../core/index.js";
import { roundToFloat16 } from "./float16.js";
import { decodeParameters, isPlainObject, type Parameters } from "./parameters.js";
import { badRequest, describeValue, ProtocolError, quoteName } from "./protocol-error.js";

/**
 * Tensors of the Open Inference Protocol v2 (REST, JSON tensor data): decoding a request input into a typed,
 * flat, row-major tensor, and encoding a typed tensor back to protocol JSON. The coercion rules are written
 * down in docs/reference/inference-protocol.md; keep the two in step.
 */

export { DATATYPES, type Datatype };

/**
 * The in-memory container per datatype. Typed arrays because runtimes (onnxruntime) take them without a
 * copy; BOOL is a Uint8Array of 0/1 for the same reason (and it matches the 1-byte wire form of the binary
 * extension); FP16 is a Float32Array of values already rounded to binary16 (see float16.ts for raw bits);
 * the 64-bit integers are BigInt arrays so values beyond 2^53 stay exact.
 */
export interface TensorDataByType {
  BOOL: Uint8Array;
  UINT8: Uint8Array;
  UINT16: Uint16Array;
  UINT32: Uint32Array;
  UINT64: BigUint64Array;
  INT8: Int8Array;
  INT16: Int16Array;
  INT32: Int32Array;
  INT64: BigInt64Array;
  FP16: Float32Array;
  FP32: Float32Array;
  FP64: Float64Array;
  BYTES: string[];
}

export type TensorData = TensorDataByType[Datatype];

/** A decoded tensor: `data` is flat and row-major, `data.length` is the product of `shape`. */
export type Tensor<D extends Datatype = Datatype> = {
  [K in D]: {
    name: string;
    datatype: K;
    shape: number[];
    data: TensorDataByType[K];
    parameters?: Parameters;
  };
}[D];

/** A JSON tensor element as the protocol writes it (64-bit integers and non-finite floats may be strings). */
export type JsonElement = number | string | boolean;

/** The protocol's tensor JSON (`$response_output`, and `$request_input` with flat data). */
export interface TensorJson {
  name: string;
  shape: number[];
  datatype: Datatype;
  parameters?: Parameters;
  data: JsonElement[];
}

export interface TensorLimits {
  /** Most dimensions in a shape. */
  maxRank: number;
  /** Most elements in one tensor; checked before anything is allocated. */
  maxElements: number;
  /** Longest tensor name, in UTF-16 code units. */
  maxNameLength: number;
}

export const DEFAULT_TENSOR_LIMITS: Readonly<TensorLimits> = {
  maxRank: 16,
  maxElements: 16 * 1024 * 1024,
  maxNameLength: 256,
};

const DATATYPE_SET: ReadonlySet<string> = new Set(DATATYPES);

export function isDatatype(value: unknown): value is Datatype {
  return typeof value === "string" && DATATYPE_SET.has(value);
}

/** "an INT32", "a UINT8": the article follows how the name is read aloud. */
function withArticle(datatype: Datatype): string {
  return /^(INT|FP)/.test(datatype) ? `an ${datatype}` : `a ${datatype}`;
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

/** Parameters of the binary-data and shared-memory extensions, which are not implemented here. */
const UNSUPPORTED_INPUT_PARAMETERS: Readonly<Record<string, string>> = {
  binary_data_size:
    "the binary tensor data extension is not supported; send the tensor as JSON in `data` " +
    "(tritonclient: set_data_from_numpy(..., binary_data=False))",
  shared_memory_region: "the shared-memory extension is not supported; send the tensor as JSON in `data`",
  shared_memory_byte_size: "the shared-memory extension is not supported; send the tensor as JSON in `data`",
  shared_memory_offset: "the shared-memory extension is not supported; send the tensor as JSON in `data`",
};

const INPUT_FIELDS: ReadonlySet<string> = new Set(["name", "shape", "datatype", "parameters", "data"]);

/** Validates a tensor name; `what` is "input" or "output" so messages say which list was wrong. */
export function decodeName(value: unknown, what: string, index: number, maxLength: number): string {
  if (typeof value !== "string" || value.length === 0) {
    throw badRequest(`${what}s[${index}].name is ${describeValue(value)}; expected a non-empty string`);
  }
  if (value.length > maxLength) {
    throw badRequest(`${what} ${quoteName(value)}: name is longer than ${maxLength} characters`);
  }
  return value;
}

/**
 * Validates a request shape and returns its element count. Requests carry concrete shapes, so -1 (a
 * metadata-only wildcard) is rejected like any other negative number.
 */
export function decodeShape(
  value: unknown,
  where: string,
  limits: TensorLimits,
): { shape: number[]; count: number } {
  if (!Array.isArray(value)) throw badRequest(`${where}shape is ${describeValue(value)}; expected an array`);
  if (value.length > limits.maxRank) {
    throw badRequest(`${where}shape has ${value.length} dimensions, more than the ${limits.maxRank} allowed`);
  }
  const shape: number[] = [];
  let count = 1;
  let overLimit = false;
  for (let i = 0; i < value.length; i++) {
    const dim: unknown = value[i];
    if (typeof dim !== "number" || !Number.isSafeInteger(dim) || dim < 0) {
      throw badRequest(
        `${where}shape[${i}] is ${describeValue(dim)}; dimensions must be non-negative integers`,
      );
    }
    shape.push(dim);
    // Stop multiplying once over the limit so the product never leaves the safe-integer range; a later 0
    // still makes the tensor empty, so the verdict waits until every dimension is seen.
    if (!overLimit) {
      count *= dim;
      if (count > limits.maxElements) overLimit = true;
    }
  }
  if (shape.includes(0)) return { shape, count: 0 };
  if (overLimit) {
    throw badRequest(
      `${where}shape ${formatShape(shape)} holds more than the ${limits.maxElements} elements allowed per tensor`,
    );
  }
  return { shape, count };
}

/** Returned by a coercer instead of throwing, so the caller can add the element's path to the message. */
class Reject {
  constructor(readonly reason: string) {}
}

type Coerce<T> = (value: unknown) => T | Reject;

const NON_FINITE: ReadonlyMap<string, number> = new Map([
  ["NaN", Number.NaN],
  ["Infinity", Number.POSITIVE_INFINITY],
  ["-Infinity", Number.NEGATIVE_INFINITY],
]);

function integerCoercer(datatype: Datatype, min: number, max: number): Coerce<number> {
  const notOne = new Reject(`not ${withArticle(datatype)}`);
  const outside = new Reject(`outside the ${datatype} range [${min}, ${max}]`);
  return (value) => {
    if (typeof value !== "number" || !Number.isInteger(value)) return notOne;
    // -0 passes as 0: JSON.parse("-0") is a legitimate way to write zero.
    return value < min || value > max ? outside : value;
  };
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const DECIMAL = /^-?(0|[1-9][0-9]{0,19})$/;

/**
 * INT64/UINT64 policy: JSON numbers are accepted only while they are safe integers (|v| ≤ 2^53−1), because
 * JSON.parse has already rounded anything larger and the exact value is gone; decimal strings are accepted
 * for any value in range, so clients can send exact 64-bit values.
 */
function bigIntegerCoercer(datatype: "INT64" | "UINT64", min: bigint, max: bigint): Coerce<bigint> {
  const notOne = new Reject(`not ${withArticle(datatype)}`);
  const outside = new Reject(`outside the ${datatype} range [${min}, ${max}]`);
  const unsafe = new Reject(
    `beyond ±(2^53−1), where JSON numbers lose precision; send ${datatype} values this large as decimal strings`,
  );
  return (value) => {
    let big: bigint;
    if (typeof value === "number") {
      if (!Number.isInteger(value)) return notOne;
      if (!Number.isSafeInteger(value)) return unsafe;
      big = BigInt(value);
    } else if (typeof value === "string" && DECIMAL.test(value)) {
      big = BigInt(value);
    } else {
      return notOne;
    }
    return big < min || big > max ? outside : big;
  };
}

/**
 * FP policy: JSON numbers, plus the strings "NaN", "Infinity" and "-Infinity" (JSON has no literal for them).
 * A finite number that would round to infinity in the target precision is rejected rather than turned into
 * ±Infinity; rounding to the nearest representable value is otherwise silent, as in any float conversion.
 */
function floatCoercer(
  datatype: "FP16" | "FP32" | "FP64",
  round: (x: number) => number,
  max: number,
): Coerce<number> {
  const notOne = new Reject(`not ${withArticle(datatype)} (a JSON number, "NaN", "Infinity" or "-Infinity")`);
  const outside = new Reject(`outside the ${datatype} range (±${max})`);
  return (value) => {
    if (typeof value === "number") {
      const rounded = round(value);
      return Number.isFinite(rounded) ? rounded : outside;
    }
    if (typeof value === "string") return NON_FINITE.get(value) ?? notOne;
    return notOne;
  };
}

const BOOL_REJECT = new Reject("not a BOOL (true or false)");
const coerceBool: Coerce<number> = (value) => (value === true ? 1 : value === false ? 0 : BOOL_REJECT);

const BYTES_REJECT = new Reject("not a BYTES element (a JSON string)");
const coerceBytes: Coerce<string> = (value) => (typeof value === "string" ? value : BYTES_REJECT);

const COERCE = {
  UINT8: integerCoercer("UINT8", 0, 0xff),
  UINT16: integerCoercer("UINT16", 0, 0xffff),
  UINT32: integerCoercer("UINT32", 0, 0xffffffff),
  INT8: integerCoercer("INT8", -0x80, 0x7f),
  INT16: integerCoercer("INT16", -0x8000, 0x7fff),
  INT32: integerCoercer("INT32", -0x80000000, 0x7fffffff),
  INT64: bigIntegerCoercer("INT64", INT64_MIN, INT64_MAX),
  UINT64: bigIntegerCoercer("UINT64", 0n, UINT64_MAX),
  FP16: floatCoercer("FP16", roundToFloat16, 65504),
  FP32: floatCoercer("FP32", Math.fround, 3.4028234663852886e38),
  FP64: floatCoercer("FP64", (x) => x, Number.MAX_VALUE),
};

interface Layout {
  where: string;
  datatype: Datatype;
  shape: readonly number[];
  count: number;
  data: readonly unknown[];
  nested: boolean;
}

function elementError(layout: Layout, path: string, value: unknown, reason: string): ProtocolError {
  return badRequest(`${layout.where}element ${path} is ${describeValue(value)}, ${reason}`);
}

function indexPath(path: readonly number[]): string {
  return path.map((i) => `[${i}]`).join("");
}

/**
 * Checks the nesting of nested data against the shape before anything is allocated, so a small body that
 * claims a huge shape is refused without allocating the huge tensor.
 */
function checkNesting(layout: Layout, value: readonly unknown[], depth: number, path: number[]): void {
  const expected = layout.shape[depth] as number;
  if (value.length !== expected) {
    const at = depth === 0 ? "data" : `data${indexPath(path)}`;
    throw badRequest(
      `${layout.where}${at} has ${value.length} elements where shape ${formatShape(layout.shape)} needs ${expected}`,
    );
  }
  if (depth === layout.shape.length - 1) return;
  for (let i = 0; i < value.length; i++) {
    const child: unknown = value[i];
    path.push(i);
    if (!Array.isArray(child)) {
      throw badRequest(
        `${layout.where}data${indexPath(path)} is ${describeValue(child)}, expected an array of ` +
          `${layout.shape[depth + 1]} (shape ${formatShape(layout.shape)}); data must be flat or nested to match the shape`,
      );
    }
    checkNesting(layout, child, depth + 1, path);
    path.pop();
  }
}

function fill<T>(layout: Layout, target: { [index: number]: T }, coerce: Coerce<T>): void {
  if (!layout.nested) {
    const { data } = layout;
    for (let i = 0; i < layout.count; i++) {
      const value: unknown = data[i];
      if (Array.isArray(value)) {
        throw elementError(layout, `[${i}]`, value, "but data must be flat or nested to match the shape");
      }
      const result = coerce(value);
      if (result instanceof Reject) throw elementError(layout, `[${i}]`, value, result.reason);
      target[i] = result;
    }
    return;
  }
  let offset = 0;
  const path: number[] = [];
  const leafDepth = layout.shape.length - 1;
  // checkNesting has proven every level down to leafDepth is an array of the right length.
  const walk = (level: readonly unknown[], depth: number): void => {
    for (let i = 0; i < level.length; i++) {
      const value: unknown = level[i];
      path.push(i);
      if (depth < leafDepth) {
        walk(value as unknown[], depth + 1);
      } else {
        if (Array.isArray(value)) {
          throw elementError(
            layout,
            indexPath(path),
            value,
            `but shape ${formatShape(layout.shape)} ends here`,
          );
        }
        const result = coerce(value);
        if (result instanceof Reject) throw elementError(layout, indexPath(path), value, result.reason);
        target[offset++] = result;
      }
      path.pop();
    }
  };
  walk(layout.data, 0);
}

/**
 * Decodes `data` for an already validated datatype and shape. Flat data (a list of `count` scalars) and data
 * nested exactly like the shape are both accepted; anything in between is refused so that a mistake in the
 * client's layout can never be read as a different tensor.
 */
export function decodeTensorData(
  datatype: Datatype,
  shape: readonly number[],
  count: number,
  data: unknown,
  where = "",
): TensorData {
  if (!Array.isArray(data)) throw badRequest(`${where}data is ${describeValue(data)}; expected an array`);
  const nested = shape.length >= 2 && data.length > 0 && Array.isArray(data[0]);
  const layout: Layout = { where, datatype, shape, count, data, nested };
  if (nested) {
    checkNesting(layout, data, 0, []);
  } else if (data.length !== count) {
    throw badRequest(
      `${where}data holds ${data.length} elements but shape ${formatShape(shape)} needs ${count}`,
    );
  }
  switch (datatype) {
    case "BOOL": {
      const out = new Uint8Array(count);
      fill(layout, out, coerceBool);
      return out;
    }
    case "UINT8": {
      const out = new Uint8Array(count);
      fill(layout, out, COERCE.UINT8);
      return out;
    }
    case "UINT16": {
      const out = new Uint16Array(count);
      fill(layout, out, COERCE.UINT16);
      return out;
    }
    case "UINT32": {
      const out = new Uint32Array(count);
      fill(layout, out, COERCE.UINT32);
      return out;
    }
    case "UINT64": {
      const out = new BigUint64Array(count);
      fill(layout, out, COERCE.UINT64);
      return out;
    }
    case "INT8": {
      const out = new Int8Array(count);
      fill(layout, out, COERCE.INT8);
      return out;
    }
    case "INT16": {
      const out = new Int16Array(count);
      fill(layout, out, COERCE.INT16);
      return out;
    }
    case "INT32": {
      const out = new Int32Array(count);
      fill(layout, out, COERCE.INT32);
      return out;
    }
    case "INT64": {
      const out = new BigInt64Array(count);
      fill(layout, out, COERCE.INT64);
      return out;
    }
    case "FP16": {
      const out = new Float32Array(count);
      fill(layout, out, COERCE.FP16);
      return out;
    }
    case "FP32": {
      const out = new Float32Array(count);
      fill(layout, out, COERCE.FP32);
      return out;
    }
    case "FP64": {
      const out = new Float64Array(count);
      fill(layout, out, COERCE.FP64);
      return out;
    }
    case "BYTES": {
      const out = new Array<string>(count);
      fill(layout, out, coerceBytes);
      return out;
    }
    default:
      return unreachable(datatype);
  }
}

function unreachable(value: never): never {
  throw new ProtocolError("MODEL_FAILED", `unhandled datatype ${describeValue(value)}`);
}

/**
 * Decodes one `$request_input` (`index` is its position in `inputs`, for messages about a nameless input).
 * The returned tensor's data container matches its datatype (see TensorDataByType).
 */
export function decodeTensor(
  input: unknown,
  index = 0,
  limits: TensorLimits = DEFAULT_TENSOR_LIMITS,
): Tensor {
  if (!isPlainObject(input))
    throw badRequest(`inputs[${index}] is ${describeValue(input)}; expected an object`);
  const name = decodeName(input.name, "input", index, limits.maxNameLength);
  const where = `input ${quoteName(name)}: `;
  for (const key of Object.keys(input)) {
    if (!INPUT_FIELDS.has(key)) throw badRequest(`${where}unknown field ${quoteName(key)}`);
  }
  // Parameters first: a binary_data_size parameter explains a missing `data` better than "data is missing".
  const parameters =
    input.parameters === undefined || input.parameters === null
      ? undefined
      : decodeParameters(input.parameters, where, UNSUPPORTED_INPUT_PARAMETERS);
  const datatype: unknown = input.datatype;
  if (!isDatatype(datatype)) {
    throw badRequest(
      `${where}datatype is ${describeValue(datatype)}; expected one of ${DATATYPES.join(", ")}`,
    );
  }
  const { shape, count } = decodeShape(input.shape, where, limits);
  const data = decodeTensorData(datatype, shape, count, input.data, where);
  // The cast restores the datatype/data pairing that the switch in decodeTensorData guarantees.
  const tensor = { name, datatype, shape, data } as Tensor;
  if (parameters !== undefined) tensor.parameters = parameters;
  return tensor;
}

/** The number of elements a shape holds (1 for a scalar shape `[]`). */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Mirrors the INT64 request policy: safe values as JSON numbers, larger ones as exact decimal strings. */
function bigIntToJson(value: bigint): number | string {
  return value <= MAX_SAFE && value >= -MAX_SAFE ? Number(value) : value.toString();
}

/** JSON.stringify would write NaN and ±Infinity as null; the same strings the decoder accepts keep them. */
function floatToJson(value: number): number | string {
  if (Number.isFinite(value)) return value;
  return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
}

/** Flat, row-major JSON elements of a tensor. */
export function encodeTensorData(tensor: Tensor): JsonElement[] {
  switch (tensor.datatype) {
    case "BOOL":
      return Array.from(tensor.data, (v) => v !== 0);
    case "UINT8":
    case "UINT16":
    case "UINT32":
    case "INT8":
    case "INT16":
    case "INT32":
      return Array.from(tensor.data);
    case "UINT64":
      return Array.from(tensor.data, bigIntToJson);
    case "INT64":
      return Array.from(tensor.data, bigIntToJson);
    case "FP16":
    case "FP32":
      return Array.from(tensor.data, floatToJson);
    case "FP64":
      return Array.from(tensor.data, floatToJson);
    case "BYTES":
      return tensor.data.slice();
    default:
      return unreachable(tensor);
  }
}

/**
 * Encodes a tensor the server produced. A shape that does not match the data is a server bug, not a client
 * mistake, so it fails with 500.
 */
export function encodeTensor(tensor: Tensor): TensorJson {
  const where = `output ${quoteName(tensor.name)}: `;
  for (const dim of tensor.shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) {
      throw new ProtocolError(
        "MODEL_FAILED",
        `${where}shape ${formatShape(tensor.shape)} has an invalid dimension`,
      );
    }
  }
  const count = elementCount(tensor.shape);
  if (tensor.data.length !== count) {
    throw new ProtocolError(
      "MODEL_FAILED",
      `${where}data holds ${tensor.data.length} elements but shape ${formatShape(tensor.shape)} needs ${count}`,
    );
  }
  const json: TensorJson = {
    name: tensor.name,
    datatype: tensor.datatype,
    shape: tensor.shape.slice(),
    data: encodeTensorData(tensor),
  };
  if (tensor.parameters !== undefined) json.parameters = { ...tensor.parameters };
  return json;
}
