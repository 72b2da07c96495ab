/**
 * Per-model request statistics for `/metrics`, with bounded output: a server of 10,000 models exports its
 * busiest N models by name and sums every other model under one `__other__` row, so the scrape stays the same
 * size however many models are served. Counting is exact (one small record per model that answered a
 * request, bounded by the registry), only the export is bounded.
 */

/** Upper bounds of the latency histogram, in seconds (the last bucket, +Inf, is implied). */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
];

/** The label value that stands for every model outside the top N. */
export const OTHER_MODELS = "__other__";

export interface ModelTrafficRow {
  model: string;
  requests: number;
  errors: number;
  /** Cumulative counts per LATENCY_BUCKETS_SECONDS bound, then +Inf (= requests). */
  buckets: number[];
  latencySecondsSum: number;
}

export interface TrafficSnapshot {
  /** The busiest models, most requests first; then the `__other__` row when any model is left out. */
  rows: ModelTrafficRow[];
  /** Models that answered at least one request since start. */
  models: number;
}

interface Counts {
  requests: number;
  errors: number;
  /** Per-bucket (not cumulative) counts; the extra last slot is +Inf. */
  perBucket: Float64Array;
  latencySecondsSum: number;
}

function bucketIndex(seconds: number): number {
  // Thirteen bounds: a linear scan beats a binary search at this size.
  let i = 0;
  while (i < LATENCY_BUCKETS_SECONDS.length && seconds > (LATENCY_BUCKETS_SECONDS[i] as number)) i++;
  return i;
}

export class ModelTraffic {
  readonly #models = new Map<string, Counts>();

  observe(model: string, latencySeconds: number, failed: boolean): void {
    let counts = this.#models.get(model);
    if (counts === undefined) {
      counts = {
        requests: 0,
        errors: 0,
        perBucket: new Float64Array(LATENCY_BUCKETS_SECONDS.length + 1),
        latencySecondsSum: 0,
      };
      this.#models.set(model, counts);
    }
    counts.requests++;
    if (failed) counts.errors++;
    const index = bucketIndex(latencySeconds);
    counts.perBucket[index] = (counts.perBucket[index] ?? 0) + 1;
    counts.latencySecondsSum += latencySeconds;
  }

  /** The top `topN` models by requests (ties by name) and the sum of the rest. */
  snapshot(topN: number): TrafficSnapshot {
    const all = [...this.#models.entries()];
    all.sort(([nameA, a], [nameB, b]) => b.requests - a.requests || (nameA < nameB ? -1 : 1));
    const rows = all.slice(0, Math.max(0, topN)).map(([model, counts]) => toRow(model, counts));
    const rest = all.slice(Math.max(0, topN));
    if (rest.length > 0) {
      const other: Counts = {
        requests: 0,
        errors: 0,
        perBucket: new Float64Array(LATENCY_BUCKETS_SECONDS.length + 1),
        latencySecondsSum: 0,
      };
      for (const [, counts] of rest) {
        other.requests += counts.requests;
        other.errors += counts.errors;
        other.latencySecondsSum += counts.latencySecondsSum;
        for (let i = 0; i < other.perBucket.length; i++) {
          other.perBucket[i] = (other.perBucket[i] ?? 0) + (counts.perBucket[i] ?? 0);
        }
      }
      rows.push(toRow(OTHER_MODELS, other));
    }
    return { rows, models: this.#models.size };
  }
}

function toRow(model: string, counts: Counts): ModelTrafficRow {
  const buckets: number[] = [];
  let running = 0;
  for (const count of counts.perBucket) {
    running += count;
    buckets.push(running);
  }
  return {
    model,
    requests: counts.requests,
    errors: counts.errors,
    buckets,
    latencySecondsSum: counts.latencySecondsSum,
  };
}

/**
 * The last `capacity` durations of something (model loads), for quantiles over a sliding window: a Prometheus
 * summary whose quantiles describe recent behaviour rather than the whole life of the process.
 */
export class RecentDurations {
  readonly #values: Float64Array;
  #next = 0;
  #filled = 0;
  #count = 0;
  #sum = 0;

  constructor(capacity = 1024) {
    this.#values = new Float64Array(capacity);
  }

  observe(ms: number): void {
    this.#values[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#values.length;
    this.#filled = Math.min(this.#filled + 1, this.#values.length);
    this.#count++;
    this.#sum += ms;
  }

  /** Quantiles (nearest rank) of the window, in milliseconds; empty when nothing was observed. */
  summary(quantiles: readonly number[] = [0.5, 0.9, 0.99]): DurationSummary {
    const window = this.#values.slice(0, this.#filled).sort();
    const at = (q: number) =>
      window[Math.min(window.length - 1, Math.max(0, Math.ceil(q * window.length) - 1))];
    return {
      quantiles: window.length === 0 ? [] : quantiles.map((q) => ({ q, ms: at(q) as number })),
      count: this.#count,
      sumMs: this.#sum,
      window: window.length,
    };
  }
}

export interface DurationSummary {
  quantiles: Array<{ q: number; ms: number }>;
  /** Every observation since start (the window holds the latest ones). */
  count: number;
  sumMs: number;
  window: number;
}
