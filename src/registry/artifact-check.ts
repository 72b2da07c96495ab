import { type Result, SkalaError, type ValidationIssue } from "../core/index.js";
import type { Signature } from "./registry.schemas.js";

/** A version about to be registered, as an ArtifactValidator sees it. */
export interface ArtifactCandidate {
  runtime: string;
  /** The artifact's bytes: inline ones as they will be stored, a digest reference read from the blob store. */
  read(): Promise<Uint8Array>;
  /** The signature the version declares, to compare with what the artifact says of itself where it can. */
  signature?: Signature;
}

/**
 * Why a version could never load (`runtime`, `artifact`), or how its declared signature contradicts its
 * artifact (`signature`, with `at` the place in it: `inputs/0/datatype`), and which field is at fault.
 */
export interface ArtifactProblem {
  field: "runtime" | "artifact" | "signature";
  at?: string;
  message: string;
}

/**
 * The registry's port for "would this version ever load?", implemented by serving's runtimes and passed in by
 * the composition root (the registry does not know any runtime). Resolves to a problem for a version that
 * never could, or every difference between its signature and its artifact; rejects (SERVICE_UNAVAILABLE) only
 * when the check cannot run right now.
 */
export type ArtifactValidator = (
  candidate: ArtifactCandidate,
) => Promise<Result<void, ArtifactProblem | readonly ArtifactProblem[]>>;

/** Checks in flight at once: ONNX checks occupy worker threads, and each holds a copy of its bytes. */
const CONCURRENT_CHECKS = 8;

/** One version to check: a digest reference carries its digest, so a blob registered twice is checked once. */
export interface LoadableCheck extends ArtifactCandidate {
  digest?: string;
}

/**
 * Asks the validator about every version and refuses the whole registration, listing every problem with its
 * path: VERSION_UNLOADABLE when any version could never load, otherwise SIGNATURE_MISMATCH when a declared
 * signature contradicts its artifact. It runs before anything is written.
 */
export async function checkLoadable(
  checks: readonly LoadableCheck[],
  validate: ArtifactValidator,
  pathOf: (index: number, field: ArtifactProblem["field"]) => string,
): Promise<void> {
  type Outcome = Result<void, ArtifactProblem | readonly ArtifactProblem[]>;
  const byDigest = new Map<string, Promise<Outcome>>();
  const results: Outcome[] = new Array(checks.length);
  let next = 0;
  const drain = async (): Promise<void> => {
    while (next < checks.length) {
      const index = next++;
      const { runtime, read, digest, signature } = checks[index] as LoadableCheck;
      // Versions of one blob share a check only when they declare the same signature.
      const key =
        digest === undefined
          ? undefined
          : `${runtime}\u0000${digest}\u0000${JSON.stringify(signature ?? null)}`;
      let outcome = key === undefined ? undefined : byDigest.get(key);
      if (outcome === undefined) {
        outcome = validate({ runtime, read, ...(signature !== undefined && { signature }) });
        if (key !== undefined) byDigest.set(key, outcome);
      }
      results[index] = await outcome;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_CHECKS, checks.length) }, drain));
  const issues: ValidationIssue[] = [];
  let unloadable = false;
  results.forEach((result, index) => {
    if (result.ok) return;
    for (const problem of Array.isArray(result.error) ? result.error : [result.error]) {
      const { field, at, message } = problem as ArtifactProblem;
      if (field !== "signature") unloadable = true;
      const path = pathOf(index, field);
      issues.push({ path: at === undefined ? path : `${path}/${at}`, message });
    }
  });
  if (issues.length === 0) return;
  const first = issues[0] as ValidationIssue;
  if (!unloadable) {
    throw new SkalaError(
      "SIGNATURE_MISMATCH",
      issues.length === 1
        ? `the declared signature does not match the model: ${first.path}: ${first.message}`
        : `the declared signatures do not match the models in ${issues.length} places, first ${first.path}: ${first.message}`,
      { issues },
    );
  }
  throw new SkalaError(
    "VERSION_UNLOADABLE",
    issues.length === 1
      ? `cannot register a version that could never load: ${first.path}: ${first.message}`
      : `cannot register ${issues.length} versions that could never load, first ${first.path}: ${first.message}`,
    { issues },
  );
}
