import { ProtobufWriter } from "./protobuf-writer.js";

/**
 * A writer for the subset of onnx.proto (ModelProto and what it contains) that the project's own test and
 * benchmark models need. Field numbers are those of onnx/onnx.proto; they are stable across ONNX releases
 * because protobuf compatibility depends on them.
 */

/** TensorProto.DataType values (onnx.proto). Only the types the built models use are named. */
export const TENSOR_DATA_TYPE = {
  float: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  double: 11,
} as const;

export type TensorDataType = keyof typeof TENSOR_DATA_TYPE;

/** The IR version written by default: 8 is understood by every onnxruntime release since 1.10. */
export const DEFAULT_IR_VERSION = 8;

/** The default ("ai.onnx") operator set version written by default. */
export const DEFAULT_OPSET = 17;

/** The classical-ML domain that holds TreeEnsembleRegressor and friends. */
export const ONNX_ML_DOMAIN = "ai.onnx.ml";

export interface OpsetImport {
  /** "" is the default ONNX domain. */
  domain: string;
  version: number;
}

/** A dimension: a fixed size, or a name for a symbolic size such as the batch. */
export type Dimension = number | string;

export interface ValueInfo {
  name: string;
  elemType: TensorDataType;
  shape: readonly Dimension[];
}

export interface Tensor {
  name: string;
  dims: readonly number[];
  dataType: "float";
  data: Float32Array;
  /**
   * `raw` (default) stores little-endian bytes in raw_data, as exporters do; `float_data` uses the packed
   * typed field. Both are valid ONNX; the option exists so tests can exercise either.
   */
  encoding?: "raw" | "float_data";
}

export type Attribute =
  | { name: string; type: "float"; value: number }
  | { name: string; type: "int"; value: number | bigint }
  | { name: string; type: "string"; value: string }
  | { name: string; type: "floats"; value: ArrayLike<number> }
  | { name: string; type: "ints"; value: ArrayLike<number | bigint> }
  | { name: string; type: "strings"; value: readonly string[] };

export interface Node {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  /** Omitted or "" for the default ONNX domain. */
  domain?: string;
  attributes?: readonly Attribute[];
}

export interface Graph {
  name: string;
  nodes: readonly Node[];
  initializers?: readonly Tensor[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
}

export interface Model {
  graph: Graph;
  /** Defaults to `[{ domain: "", version: DEFAULT_OPSET }]`. */
  opsetImports?: readonly OpsetImport[];
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** Stored as ModelProto.metadata_props; onnxruntime exposes them as custom metadata. */
  metadata?: Readonly<Record<string, string>>;
}

/** AttributeProto.AttributeType values. */
const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, floats: 6, ints: 7, strings: 8 } as const;

/**
 * Serialises a model to ONNX protobuf bytes, ready for `InferenceSession.create(bytes)` or a `.onnx` file.
 *
 * @example
 * const bytes = encodeModel({
 *   producerName: "skala",
 *   graph: {
 *     name: "identity",
 *     nodes: [{ opType: "Identity", inputs: ["x"], outputs: ["y"] }],
 *     inputs: [{ name: "x", elemType: "float", shape: ["batch", 3] }],
 *     outputs: [{ name: "y", elemType: "float", shape: ["batch", 3] }],
 *   },
 * });
 */
export function encodeModel(model: Model): Uint8Array {
  const w = new ProtobufWriter(1024);
  w.int(1, model.irVersion ?? DEFAULT_IR_VERSION);
  w.string(2, model.producerName);
  w.string(3, model.producerVersion);
  w.string(6, model.docString);
  w.message(7, (g) => writeGraph(g, model.graph));
  for (const opset of model.opsetImports ?? [{ domain: "", version: DEFAULT_OPSET }]) {
    w.message(8, (o) => {
      o.string(1, opset.domain);
      o.int(2, opset.version);
    });
  }
  for (const [key, value] of Object.entries(model.metadata ?? {})) {
    w.message(14, (entry) => {
      entry.string(1, key);
      entry.string(2, value);
    });
  }
  return w.finish();
}

function writeGraph(w: ProtobufWriter, graph: Graph): void {
  for (const node of graph.nodes) w.message(1, (n) => writeNode(n, node));
  w.string(2, graph.name);
  for (const tensor of graph.initializers ?? []) w.message(5, (t) => writeTensor(t, tensor));
  for (const input of graph.inputs) w.message(11, (v) => writeValueInfo(v, input));
  for (const output of graph.outputs) w.message(12, (v) => writeValueInfo(v, output));
}

function writeNode(w: ProtobufWriter, node: Node): void {
  w.repeatedStrings(1, node.inputs);
  w.repeatedStrings(2, node.outputs);
  w.string(3, node.name);
  w.string(4, node.opType);
  for (const attribute of node.attributes ?? []) w.message(5, (a) => writeAttribute(a, attribute));
  if (node.domain) w.string(7, node.domain);
}

function writeAttribute(w: ProtobufWriter, attribute: Attribute): void {
  w.string(1, attribute.name);
  switch (attribute.type) {
    case "float":
      w.float(2, attribute.value);
      break;
    case "int":
      w.int(3, attribute.value);
      break;
    case "string":
      w.string(4, attribute.value);
      break;
    case "floats":
      w.packedFloats(7, attribute.value);
      break;
    case "ints":
      w.packedInts(8, attribute.value);
      break;
    case "strings":
      w.repeatedStrings(9, attribute.value);
      break;
    default: {
      const unhandled: never = attribute;
      throw new Error(`unknown attribute ${JSON.stringify(unhandled)}`);
    }
  }
  // The type discriminator is mandatory since IR version 2; without it an empty list is ambiguous.
  w.int(20, ATTRIBUTE_TYPE[attribute.type]);
}

function writeTensor(w: ProtobufWriter, tensor: Tensor): void {
  const expected = tensor.dims.reduce((product, d) => product * d, 1);
  if (expected !== tensor.data.length) {
    throw new RangeError(
      `tensor ${tensor.name}: ${tensor.data.length} values do not fill dims [${tensor.dims.join(", ")}]`,
    );
  }
  w.packedInts(1, tensor.dims);
  w.int(2, TENSOR_DATA_TYPE[tensor.dataType]);
  if (tensor.encoding === "float_data") {
    w.packedFloats(4, tensor.data);
  }
  w.string(8, tensor.name);
  if (tensor.encoding !== "float_data") {
    w.bytesField(9, littleEndianFloats(tensor.data));
  }
}

function littleEndianFloats(data: Float32Array): Uint8Array {
  const bytes = new Uint8Array(data.length * 4);
  const view = new DataView(bytes.buffer);
  // DataView rather than the typed array's own buffer: raw_data is little-endian whatever the host is.
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i] as number, true);
  return bytes;
}

function writeValueInfo(w: ProtobufWriter, info: ValueInfo): void {
  w.string(1, info.name);
  // TypeProto.tensor_type → TypeProto.Tensor { elem_type, shape: TensorShapeProto { dim* } }
  w.message(2, (type) =>
    type.message(1, (tensorType) => {
      tensorType.int(1, TENSOR_DATA_TYPE[info.elemType]);
      tensorType.message(2, (shape) => {
        for (const dim of info.shape) {
          shape.message(1, (d) => {
            if (typeof dim === "number") d.int(1, dim);
            else d.string(2, dim);
          });
        }
      });
    }),
  );
}
