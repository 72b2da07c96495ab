import { ProtocolError, selectOutputs, type Tensor } from "../protocol/index.js";

/** Quotes a value for an error message, clipped so a client-chosen name cannot flood the log. */
export function quote(value: unknown): string {
  const text = typeof value === "string" ? value : String(value);
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

/**
 * Rejects with the signal's own reason, so the caller that aborted recognises its abort (and the HTTP layer,
 * whose client is gone, has nothing to answer).
 */
export function checkAbort(signal: AbortSignal | undefined): void {
  signal?.throwIfAborted();
}

/** Keeps the requested outputs in the requested order; an unknown name is a client mistake (400). */
export function pickOutputs(produced: Tensor[], names: readonly string[] | undefined): Tensor[] {
  if (names === undefined) return produced;
  return selectOutputs(
    produced,
    names.map((name) => ({ name })),
  );
}

/** Checks requested output names against the declared ones before any work is done. */
export function checkOutputNames(names: readonly string[] | undefined, declared: readonly string[]): void {
  if (names === undefined) return;
  const known = new Set(declared);
  const seen = new Set<string>();
  for (const name of names) {
    if (!known.has(name)) {
      const list = declared.map(quote).join(", ");
      throw new ProtocolError(
        "INFER_REQUEST_INVALID",
        `unknown output ${quote(name)}; the model produces ${list || "no outputs"}`,
      );
    }
    if (seen.has(name))
      throw new ProtocolError("INFER_REQUEST_INVALID", `output ${quote(name)} is requested twice`);
    seen.add(name);
  }
}

/** checkInputsAgainstModel lets a repeated name through, and a feed map would silently keep the last one. */
export function checkUniqueInputs(inputs: readonly { name: string }[]): void {
  if (inputs.length < 2) return;
  const seen = new Set<string>();
  for (const { name } of inputs) {
    if (seen.has(name))
      throw new ProtocolError("INFER_REQUEST_INVALID", `input ${quote(name)} is given twice`);
    seen.add(name);
  }
}

/** FNV-1a over UTF-16 code units: stable across processes, so a model key maps to the same worker. */
export function hashKey(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
