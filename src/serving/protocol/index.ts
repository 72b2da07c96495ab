/**
 * The Open Inference Protocol v2 (REST, JSON) layer: pure validation and encoding, no I/O. Policies are
 * documented in docs/reference/inference-protocol.md.
 */
export { float16Bits, float16FromBits, fromFloat16Bits, roundToFloat16, toFloat16Bits } from "./float16.js";
export {
  DEFAULT_INFER_LIMITS,
  decodeInferRequest,
  encodeInferResponse,
  type InferLimits,
  type InferRequest,
  type InferResponseBody,
  type InferResponseInput,
  type RequestedOutput,
  selectOutputs,
} from "./infer-request.js";
export {
  checkInputsAgainstModel,
  datatypeFromOnnxType,
  encodeModelMetadata,
  encodeServerMetadata,
  encodeTensorMetadata,
  errorBody,
  type MetadataDim,
  type ModelMetadata,
  type ModelMetadataInput,
  ONNX_TYPE_BY_DATATYPE,
  type ServerMetadata,
  type TensorMetadata,
  type TensorMetadataInput,
} from "./metadata.js";
export type { Parameters, ParameterValue } from "./parameters.js";
export {
  badRequest,
  isProtocolError,
  ProtocolError,
  type ProtocolErrorBody,
  type ProtocolErrorCode,
} from "./protocol-error.js";
export {
  DATATYPES,
  type Datatype,
  DEFAULT_TENSOR_LIMITS,
  decodeTensor,
  decodeTensorData,
  elementCount,
  encodeTensor,
  encodeTensorData,
  isDatatype,
  type JsonElement,
  type Tensor,
  type TensorData,
  type TensorDataByType,
  type TensorJson,
  type TensorLimits,
} from "./tensor.js";
