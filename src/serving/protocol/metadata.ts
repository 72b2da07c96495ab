import type { ProtocolErrorBody } from "./protocol-error.js";
import { badRequest, quoteName } from "./protocol-error.js";
import type { Datatype, Tensor } from "./tensor.js";

/** `$metadata_server_response`. */
export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

/**
 * Server metadata. `extensions` must list only what is implemented (clients switch features on from it), so
 * the caller passes them explicitly; duplicates are dropped and the order kept.
 */
export function encodeServerMetadata(metadata: {
  name: string;
  version: string;
  extensions: readonly string[];
}): ServerMetadata {
  return { name: metadata.name, version: metadata.version, extensions: [...new Set(metadata.extensions)] };
}

/**
 * One dimension as a runtime reports it: a size, or something variable (ONNX symbolic names like "batch",
 * a missing value, or a negative number). Every variable form becomes the protocol's -1.
 */
export type MetadataDim = number | string | null | undefined;

export interface TensorMetadataInput {
  name: string;
  datatype: Datatype;
  shape: readonly MetadataDim[];
}

/** `$metadata_tensor`: -1 marks a variable dimension. */
export interface TensorMetadata {
  name: string;
  datatype: Datatype;
  shape: number[];
}

export interface ModelMetadataInput {
  name: string;
  versions?: readonly string[];
  platform: string;
  inputs: readonly TensorMetadataInput[];
  outputs: readonly TensorMetadataInput[];
}

/** `$metadata_model_response`. */
export interface ModelMetadata {
  name: string;
  versions?: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

function metadataDim(dim: MetadataDim): number {
  return typeof dim === "number" && Number.isSafeInteger(dim) && dim >= 0 ? dim : -1;
}

export function encodeTensorMetadata(tensor: TensorMetadataInput): TensorMetadata {
  return { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape.map(metadataDim) };
}

export function encodeModelMetadata(model: ModelMetadataInput): ModelMetadata {
  const out: ModelMetadata = {
    name: model.name,
    platform: model.platform,
    inputs: model.inputs.map(encodeTensorMetadata),
    outputs: model.outputs.map(encodeTensorMetadata),
  };
  if (model.versions !== undefined) out.versions = model.versions.slice();
  return out;
}

/** The protocol's error body for any failed request. */
export function errorBody(message: string): ProtocolErrorBody {
  return { error: message };
}

function shapeMatches(actual: readonly number[], declared: readonly number[]): boolean {
  return actual.length === declared.length && declared.every((dim, i) => dim === -1 || dim === actual[i]);
}

/**
 * Checks decoded inputs against the model's declared inputs: every declared input present, no unknown one,
 * datatypes equal, shapes equal except where the model declares -1. All failures are client mistakes (400),
 * caught here so a runtime never sees a tensor it would reject with an opaque native error.
 */
export function checkInputsAgainstModel(
  inputs: readonly Tensor[],
  declared: readonly TensorMetadata[],
): void {
  const byName = new Map(declared.map((d) => [d.name, d]));
  for (const input of inputs) {
    const spec = byName.get(input.name);
    if (spec === undefined) {
      const known = declared.map((d) => quoteName(d.name)).join(", ");
      throw badRequest(`unknown input ${quoteName(input.name)}; the model takes ${known || "no inputs"}`);
    }
    if (spec.datatype !== input.datatype) {
      throw badRequest(
        `input ${quoteName(input.name)}: datatype is ${input.datatype}, the model expects ${spec.datatype}`,
      );
    }
    if (!shapeMatches(input.shape, spec.shape)) {
      throw badRequest(
        `input ${quoteName(input.name)}: shape [${input.shape.join(",")}] does not match the model's ` +
          `[${spec.shape.join(",")}] (-1 is any size)`,
      );
    }
  }
  const given = new Set(inputs.map((t) => t.name));
  for (const spec of declared) {
    if (!given.has(spec.name)) throw badRequest(`input ${quoteName(spec.name)} is missing`);
  }
}

/** onnxruntime-node's tensor type names for each datatype. */
export const ONNX_TYPE_BY_DATATYPE: Readonly<Record<Datatype, string>> = {
  BOOL: "bool",
  UINT8: "uint8",
  UINT16: "uint16",
  UINT32: "uint32",
  UINT64: "uint64",
  INT8: "int8",
  INT16: "int16",
  INT32: "int32",
  INT64: "int64",
  FP16: "float16",
  FP32: "float32",
  FP64: "float64",
  BYTES: "string",
};

const DATATYPE_BY_ONNX_TYPE: ReadonlyMap<string, Datatype> = new Map(
  Object.entries(ONNX_TYPE_BY_DATATYPE).map(([datatype, onnx]) => [onnx, datatype as Datatype]),
);

/** The protocol datatype of an onnxruntime tensor type, or undefined for types the protocol lacks (bfloat16…). */
export function datatypeFromOnnxType(onnxType: string): Datatype | undefined {
  return DATATYPE_BY_ONNX_TYPE.get(onnxType);
}
