import { type Result, SkalaError, type ValidationIssue } from "../core/index.js";

/** A version about to be registered, as an ArtifactValidator sees it. */
export interface ArtifactCandidate {
  runtime: string;
  /** The artifact's bytes: inline ones as they will be stored, a digest reference read from the blob store. */
  read(): Promise<Uint8Array>;
}

/** Why a version could never load, and which of its fields is at fault. */
export interface ArtifactProblem {
  field: "runtime" | "artifact";
  message: string;
}

/**
 * The registry's port for "would this version ever load?", implemented by serving's runtimes and passed in by
 * the composition root (the registry does not know any runtime). Resolves to a problem for a version that
 * never could; rejects (SERVICE_UNAVAILABLE) only when the check cannot run right now.
 */
export type ArtifactValidator = (candidate: ArtifactCandidate) => Promise<Result<void, ArtifactProblem>>;

/** Checks in flight at once: ONNX checks occupy worker threads, and each holds a copy of its bytes. */
const CONCURRENT_CHECKS = 8;

/** One version to check: a digest reference carries its digest, so a blob registered twice is checked once. */
export interface LoadableCheck extends ArtifactCandidate {
  digest?: string;
}

/**
 * Asks the validator about every version and refuses the whole registration with VERSION_UNLOADABLE, listing
 * every problem with its path, when any could never load. It runs before anything is written.
 */
export async function checkLoadable(
  checks: readonly LoadableCheck[],
  validate: ArtifactValidator,
  pathOf: (index: number, field: ArtifactProblem["field"]) => string,
): Promise<void> {
  const byDigest = new Map<string, Promise<Result<void, ArtifactProblem>>>();
  const results: Array<Result<void, ArtifactProblem>> = new Array(checks.length);
  let next = 0;
  const drain = async (): Promise<void> => {
    while (next < checks.length) {
      const index = next++;
      const { runtime, read, digest } = checks[index] as LoadableCheck;
      const key = digest === undefined ? undefined : `${runtime}\u0000${digest}`;
      let outcome = key === undefined ? undefined : byDigest.get(key);
      if (outcome === undefined) {
        outcome = validate({ runtime, read });
        if (key !== undefined) byDigest.set(key, outcome);
      }
      results[index] = await outcome;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_CHECKS, checks.length) }, drain));
  const issues: ValidationIssue[] = [];
  results.forEach((result, index) => {
    if (!result.ok) issues.push({ path: pathOf(index, result.error.field), message: result.error.message });
  });
  if (issues.length === 0) return;
  const first = issues[0] as ValidationIssue;
  throw new SkalaError(
    "VERSION_UNLOADABLE",
    issues.length === 1
      ? `cannot register a version that could never load: ${first.path}: ${first.message}`
      : `cannot register ${issues.length} versions that could never load, first ${first.path}: ${first.message}`,
    { issues },
  );
}
