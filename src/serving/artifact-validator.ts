import { err, ok, SkalaError } from "../core/index.js";
import type { ArtifactProblem, ArtifactValidator, Signature } from "../registry/index.js";
import { isProtocolError } from "./protocol/index.js";
import { isRuntimeName, type RuntimeSet, runtimeUnavailable, type TensorMeta } from "./runtimes/index.js";

/**
 * The registry's ArtifactValidator over this server's runtimes: a version whose runtime is not one of them, or
 * whose artifact its runtime refuses (corrupt ONNX, a forecast without `period`), is refused at registration
 * instead of failing on every request later. ONNX artifacts are checked on a worker thread (a session is
 * created and released); forecast artifacts are parsed on the calling thread, which costs microseconds. An
 * ONNX version that declares a signature has it compared with the model's own inputs and outputs.
 *
 * @example
 * const registry = createRegistry({ store, blobs, clock, limits, artifactValidator: artifactValidator(runtimes) });
 */
export function artifactValidator(runtimes: RuntimeSet): ArtifactValidator {
  return async ({ runtime, read, signature }) => {
    if (!isRuntimeName(runtime)) return err({ field: "runtime", message: runtimeUnavailable(runtime) });
    try {
      if (runtime === "onnx" && signature !== undefined) {
        const inspection = await runtimes.onnx.inspectArtifact(read);
        if (!inspection.ok) return err({ field: "artifact", message: inspection.reason });
        const problems = signatureProblems(signature, inspection.metadata);
        return problems.length === 0 ? ok(undefined) : err(problems);
      }
      const reason = await runtimes.get(runtime).validateArtifact(read);
      return reason === undefined ? ok(undefined) : err({ field: "artifact", message: reason });
    } catch (error) {
      // A worker thread gone or the runtime closed: the check could not run, which says nothing of the artifact.
      if (isProtocolError(error) && error.code !== "INFER_REQUEST_INVALID" && error.code !== "MODEL_FAILED") {
        throw new SkalaError(
          "SERVICE_UNAVAILABLE",
          `the ${runtime} artifact check could not run: ${error.message}`,
          undefined,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  };
}

const shapeText = (shape: readonly number[]) => `[${shape.join(", ")}]`;

/**
 * Every way a declared signature contradicts a model's metadata. Each declared tensor must exist in the model
 * with the same datatype and a shape the model accepts: the same rank, and each dimension the model's size or,
 * where the model's is variable (-1), any size; a variable declared dimension needs a variable one in the
 * model. A signature that declares inputs declares all of them (the model needs every one); it may name only
 * some outputs, since a client may ask for a few.
 */
export function signatureProblems(
  declared: Signature,
  model: { inputs: readonly TensorMeta[]; outputs: readonly TensorMeta[] },
): ArtifactProblem[] {
  const problems: ArtifactProblem[] = [];
  for (const kind of ["inputs", "outputs"] as const) {
    const noun = kind === "inputs" ? "input" : "output";
    const actual = new Map(model[kind].map((tensor) => [tensor.name, tensor]));
    const names = model[kind].map((tensor) => JSON.stringify(tensor.name)).join(", ") || "none";
    declared[kind].forEach((tensor, index) => {
      const found = actual.get(tensor.name);
      const at = `${kind}/${index}`;
      if (found === undefined) {
        problems.push({
          field: "signature",
          at: `${at}/name`,
          message: `the model has no ${noun} "${tensor.name}" (its ${kind}: ${names})`,
        });
        return;
      }
      if (found.datatype !== tensor.datatype) {
        problems.push({
          field: "signature",
          at: `${at}/datatype`,
          message: `${noun} "${tensor.name}" is ${tensor.datatype} in the signature and ${found.datatype} in the model`,
        });
      }
      const fits =
        found.shape.length === tensor.shape.length &&
        tensor.shape.every((dim, i) => found.shape[i] === -1 || found.shape[i] === dim);
      if (!fits) {
        problems.push({
          field: "signature",
          at: `${at}/shape`,
          message:
            `${noun} "${tensor.name}" has shape ${shapeText(tensor.shape)} in the signature, which the model's ` +
            `${shapeText(found.shape)} does not accept (-1 marks a variable dimension)`,
        });
      }
    });
  }
  if (declared.inputs.length > 0) {
    const named = new Set(declared.inputs.map((tensor) => tensor.name));
    for (const tensor of model.inputs) {
      if (named.has(tensor.name)) continue;
      problems.push({
        field: "signature",
        at: "inputs",
        message: `the model's input "${tensor.name}" (${tensor.datatype} ${shapeText(tensor.shape)}) is missing from the signature`,
      });
    }
  }
  return problems;
}
