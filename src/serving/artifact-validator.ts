import { err, ok, SkalaError } from "../core/index.js";
import type { ArtifactValidator } from "../registry/index.js";
import { isProtocolError } from "./protocol/index.js";
import { isRuntimeName, type RuntimeSet, runtimeUnavailable } from "./runtimes/index.js";

/**
 * The registry's ArtifactValidator over this server's runtimes: a version whose runtime is not one of them, or
 * whose artifact its runtime refuses (corrupt ONNX, a forecast without `period`), is refused at registration
 * instead of failing on every request later. ONNX artifacts are checked on a worker thread (a session is
 * created and released); forecast artifacts are parsed on the calling thread, which costs microseconds.
 *
 * @example
 * const registry = createRegistry({ store, blobs, clock, limits, artifactValidator: artifactValidator(runtimes) });
 */
export function artifactValidator(runtimes: RuntimeSet): ArtifactValidator {
  return async ({ runtime, read }) => {
    if (!isRuntimeName(runtime)) return err({ field: "runtime", message: runtimeUnavailable(runtime) });
    let reason: string | undefined;
    try {
      reason = await runtimes.get(runtime).validateArtifact(read);
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
    return reason === undefined ? ok(undefined) : err({ field: "artifact", message: reason });
  };
}
