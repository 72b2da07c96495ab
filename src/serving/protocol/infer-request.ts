import { decodeParameters, isPlainObject, type Parameters } from "./parameters.js";
import { badRequest, describeValue, quoteName } from "./protocol-error.js";
import {
  DEFAULT_TENSOR_LIMITS,
  decodeName,
  decodeTensor,
  encodeTensor,
  type Tensor,
  type TensorJson,
  type TensorLimits,
} from "./tensor.js";

/** One entry of the request's `outputs`: which output the client wants back. */
export interface RequestedOutput {
  name: string;
  parameters?: Parameters;
}

/** A validated `$inference_request`. */
export interface InferRequest {
  id?: string;
  parameters?: Parameters;
  inputs: Tensor[];
  /** Absent means "every output the model produces". */
  outputs?: RequestedOutput[];
}

export interface InferLimits extends TensorLimits {
  maxInputs: number;
  maxOutputs: number;
  /** Most elements over all inputs of one request. */
  maxTotalElements: number;
  maxIdLength: number;
}

export const DEFAULT_INFER_LIMITS: Readonly<InferLimits> = {
  ...DEFAULT_TENSOR_LIMITS,
  maxInputs: 64,
  maxOutputs: 64,
  maxTotalElements: 16 * 1024 * 1024,
  maxIdLength: 256,
};

const REQUEST_FIELDS: ReadonlySet<string> = new Set(["id", "parameters", "inputs", "outputs"]);
const OUTPUT_FIELDS: ReadonlySet<string> = new Set(["name", "parameters"]);

const SHARED_MEMORY = "the shared-memory extension is not supported; outputs are returned as JSON";
const UNSUPPORTED_OUTPUT_PARAMETERS: Readonly<Record<string, string>> = {
  shared_memory_region: SHARED_MEMORY,
  shared_memory_byte_size: SHARED_MEMORY,
  shared_memory_offset: SHARED_MEMORY,
  classification: "the classification extension is not supported; request the raw output instead",
};

/**
 * `binary_data` (per output) and `binary_data_output` (per request) are preferences, not demands: Triton's
 * clients ask for binary outputs by default yet read a JSON answer just as well, so they are accepted, must be
 * booleans, and the answer is JSON.
 */
function checkBinaryPreference(parameters: Parameters, key: string, where: string): void {
  if (Object.hasOwn(parameters, key) && typeof parameters[key] !== "boolean") {
    throw badRequest(
      `${where}parameter ${quoteName(key)} is ${describeValue(parameters[key])}; expected a boolean`,
    );
  }
}

function decodeOutputs(value: unknown, limits: InferLimits): RequestedOutput[] {
  if (!Array.isArray(value)) throw badRequest(`outputs is ${describeValue(value)}; expected an array`);
  if (value.length > limits.maxOutputs) {
    throw badRequest(`outputs lists ${value.length} outputs, more than the ${limits.maxOutputs} allowed`);
  }
  const seen = new Set<string>();
  return value.map((entry: unknown, index): RequestedOutput => {
    if (!isPlainObject(entry))
      throw badRequest(`outputs[${index}] is ${describeValue(entry)}; expected an object`);
    const name = decodeName(entry.name, "output", index, limits.maxNameLength);
    const where = `output ${quoteName(name)}: `;
    for (const key of Object.keys(entry)) {
      if (!OUTPUT_FIELDS.has(key)) throw badRequest(`${where}unknown field ${quoteName(key)}`);
    }
    if (seen.has(name)) throw badRequest(`output ${quoteName(name)} is requested twice`);
    seen.add(name);
    if (entry.parameters === undefined || entry.parameters === null) return { name };
    const parameters = decodeParameters(entry.parameters, where, UNSUPPORTED_OUTPUT_PARAMETERS);
    checkBinaryPreference(parameters, "binary_data", where);
    return { name, parameters };
  });
}

/**
 * Validates an infer request body (already parsed JSON) and decodes its tensors. Every client mistake throws a
 * ProtocolError with status 400; nothing else is thrown for any JSON value. `null` counts as absent for the
 * optional fields because some clients serialise an unset id as `"id": null`.
 */
export function decodeInferRequest(body: unknown, limits: Partial<InferLimits> = {}): InferRequest {
  const l: InferLimits = { ...DEFAULT_INFER_LIMITS, ...limits };
  if (!isPlainObject(body))
    throw badRequest(`the request body is ${describeValue(body)}; expected a JSON object`);
  for (const key of Object.keys(body)) {
    if (!REQUEST_FIELDS.has(key)) throw badRequest(`unknown field ${quoteName(key)} in the request body`);
  }
  const request: InferRequest = { inputs: [] };
  if (body.id !== undefined && body.id !== null) {
    if (typeof body.id !== "string") throw badRequest(`id is ${describeValue(body.id)}; expected a string`);
    if (body.id.length > l.maxIdLength) throw badRequest(`id is longer than ${l.maxIdLength} characters`);
    request.id = body.id;
  }
  if (body.parameters !== undefined && body.parameters !== null) {
    request.parameters = decodeParameters(body.parameters, "request: ");
    checkBinaryPreference(request.parameters, "binary_data_output", "request: ");
  }
  const inputs: unknown = body.inputs;
  if (!Array.isArray(inputs)) throw badRequest(`inputs is ${describeValue(inputs)}; expected an array`);
  if (inputs.length === 0) throw badRequest("inputs is empty; an infer request needs at least one input");
  if (inputs.length > l.maxInputs) {
    throw badRequest(`inputs lists ${inputs.length} tensors, more than the ${l.maxInputs} allowed`);
  }
  const names = new Set<string>();
  let total = 0;
  for (let i = 0; i < inputs.length; i++) {
    const tensor = decodeTensor(inputs[i], i, l);
    if (names.has(tensor.name)) throw badRequest(`input ${quoteName(tensor.name)} appears more than once`);
    names.add(tensor.name);
    total += tensor.data.length;
    if (total > l.maxTotalElements) {
      throw badRequest(`the inputs hold more than the ${l.maxTotalElements} elements allowed per request`);
    }
    request.inputs.push(tensor);
  }
  if (body.outputs !== undefined && body.outputs !== null) request.outputs = decodeOutputs(body.outputs, l);
  return request;
}

/**
 * Picks the outputs the client asked for, in the order it asked. An unknown name is the client's mistake
 * (400), named with the outputs that do exist.
 */
export function selectOutputs(
  produced: readonly Tensor[],
  requested: readonly RequestedOutput[] | undefined,
): Tensor[] {
  if (requested === undefined) return produced.slice();
  const byName = new Map(produced.map((t) => [t.name, t]));
  return requested.map(({ name }) => {
    const tensor = byName.get(name);
    if (tensor === undefined) {
      const known = produced.map((t) => quoteName(t.name)).join(", ");
      throw badRequest(`unknown output ${quoteName(name)}; the model produces ${known || "no outputs"}`);
    }
    return tensor;
  });
}

export interface InferResponseInput {
  modelName: string;
  modelVersion?: string;
  id?: string;
  parameters?: Parameters;
  outputs: readonly Tensor[];
}

/** `$inference_response`. */
export interface InferResponseBody {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Parameters;
  outputs: TensorJson[];
}

/**
 * Encodes the answer. `id` is echoed only when the request had one (the spec: "the id given in the request, if
 * any"); data is always flat; INT64/UINT64 and non-finite floats follow the request policies (see tensor.ts).
 */
export function encodeInferResponse(response: InferResponseInput): InferResponseBody {
  const body: InferResponseBody = { model_name: response.modelName, outputs: [] };
  if (response.modelVersion !== undefined) body.model_version = response.modelVersion;
  if (response.id !== undefined) body.id = response.id;
  if (response.parameters !== undefined) body.parameters = { ...response.parameters };
  body.outputs = response.outputs.map(encodeTensor);
  return body;
}
