/**
 * Which models are busy now, for `/metrics`: per model, the requests (and failures) of a trailing minute, kept
 * in 10-second slices, from which the busiest N are ranked when `/metrics` is scraped. Which models those are
 * changes between scrapes, so they are exported as gauges; the lifetime per-model counters are the HTTP
 * layer's, over a fixed set of models (see src/http/metrics.ts).
 */

/** Upper bounds of the per-model latency histogram, in seconds (the last bucket, +Inf, is implied). */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
];

/** The busiest models are ranked over this trailing window, kept in 10-second slices. */
export const RECENT_WINDOW_SECONDS = 60;
const SLICE_MS = 10_000;
const SLICES = (RECENT_WINDOW_SECONDS * 1000) / SLICE_MS;

export interface RecentModelTraffic {
  model: string;
  /** Requests answered (and those that failed) over the last RECENT_WINDOW_SECONDS, to 10-second steps. */
  requests: number;
  errors: number;
}

export interface TrafficSnapshot {
  /** The busiest models of the recent window, most requests first (ties by name); idle ones are left out. */
  busiest: RecentModelTraffic[];
  /** Models that answered at least one request since start. */
  served: number;
}

/**
 * One model's counts in a ring of slices: slot `slice % SLICES` holds that slice's requests and errors, and is
 * reset when a later slice reuses it. Packed in one array, since one is kept per model served.
 */
class RecentCounts {
  /** [slice, requests, errors] per slot; a slot never written holds no slice. */
  readonly #slots = new Float64Array(SLICES * 3);

  constructor() {
    for (let at = 0; at < this.#slots.length; at += 3) this.#slots[at] = Number.NEGATIVE_INFINITY;
  }

  observe(slice: number, failed: boolean): void {
    const at = (slice % SLICES) * 3;
    if (this.#slots[at] !== slice) {
      this.#slots[at] = slice;
      this.#slots[at + 1] = 0;
      this.#slots[at + 2] = 0;
    }
    this.#slots[at + 1] = (this.#slots[at + 1] as number) + 1;
    if (failed) this.#slots[at + 2] = (this.#slots[at + 2] as number) + 1;
  }

  /** Requests and errors of the slices in the window that ends with `slice`. */
  total(slice: number): { requests: number; errors: number } {
    let requests = 0;
    let errors = 0;
    for (let at = 0; at < this.#slots.length; at += 3) {
      if ((this.#slots[at] as number) > slice - SLICES) {
        requests += this.#slots[at + 1] as number;
        errors += this.#slots[at + 2] as number;
      }
    }
    return { requests, errors };
  }
}

export class RecentTraffic {
  readonly #models = new Map<string, RecentCounts>();
  readonly #now: () => number;

  /** `now`: milliseconds, monotonic (default `performance.now()`). */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  observe(model: string, failed: boolean): void {
    let counts = this.#models.get(model);
    if (counts === undefined) {
      counts = new RecentCounts();
      this.#models.set(model, counts);
    }
    counts.observe(Math.floor(this.#now() / SLICE_MS), failed);
  }

  /** The `busiest` models of the trailing window. */
  snapshot(busiest: number): TrafficSnapshot {
    const slice = Math.floor(this.#now() / SLICE_MS);
    const recent: RecentModelTraffic[] = [];
    for (const [model, counts] of this.#models) {
      const total = counts.total(slice);
      if (total.requests > 0) recent.push({ model, ...total });
    }
    recent.sort((a, b) => b.requests - a.requests || (a.model < b.model ? -1 : 1));
    return { busiest: recent.slice(0, Math.max(0, busiest)), served: this.#models.size };
  }
}
