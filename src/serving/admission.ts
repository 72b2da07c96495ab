/**
 * Admission control for inference requests: at most `limit` worked on at once. The HTTP layer asks once a
 * request's body has arrived, so a client that stalls mid-body holds no slot (the server's body deadline and
 * body budget bound those), and a refused client is told to come back (503 + Retry-After) instead of waiting
 * in an unbounded queue.
 */
export class AdmissionGate {
  #inflight = 0;
  #refused = 0;

  constructor(readonly limit: number = Number.POSITIVE_INFINITY) {
    if (!(limit >= 1)) throw new RangeError(`the in-flight limit must be at least 1, got ${limit}`);
  }

  /** Returns a release function, or undefined when the server is full. */
  tryEnter(): (() => void) | undefined {
    if (this.#inflight >= this.limit) {
      this.#refused++;
      return undefined;
    }
    this.#inflight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inflight--;
    };
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** Requests refused since start. */
  get refused(): number {
    return this.#refused;
  }
}
