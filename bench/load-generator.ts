/**
 * Load generator for the benchmarks, run as its own process so that it does not share an event loop (or a
 * core's time slices in one process) with the server it measures. Reads a JSON job from argv, prints the
 * autocannon summary as JSON on stdout.
 *
 * Besides autocannon's own figures (its latency histogram has 1 ms resolution and counts 2xx only), it records
 * every response's latency from autocannon's `response` event, measured with `process.hrtime`, so sub-millisecond
 * percentiles (p50, p99, p99.9) are exact: `exact` in the output, over 2xx responses.
 */
import autocannon from "autocannon";

interface Job {
  url: string;
  /** Paths to request: picked at random for each request (default), or in turn (`order: "cycle"`). */
  paths: string[];
  connections: number;
  durationSeconds: number;
  order?: "random" | "cycle";
  method?: "GET" | "POST";
  /** Request body, the same for every request (JSON is sent with `content-type: application/json`). */
  body?: string;
  headers?: Record<string, string>;
}

const job = JSON.parse(process.argv[2] ?? "{}") as Job;
if (!job.url || !Array.isArray(job.paths) || job.paths.length === 0) {
  process.stderr.write(
    'usage: load-generator \'{"url":…,"paths":[…],"connections":16,"durationSeconds":5[,"order":"cycle","method":"POST","body":"…"]}\'\n',
  );
  process.exit(2);
}

const paths = job.paths;
let next = 0;
const pick =
  job.order === "cycle"
    ? () => paths[next++ % paths.length] as string
    : () => paths[Math.floor(Math.random() * paths.length)] as string;

const headers: Record<string, string> = { ...job.headers };
if (job.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
  headers["content-type"] = "application/json";
}

// Latencies of 2xx responses, in ms; grown by doubling (a 10 s run at 10,000 req/s is 100,000 values).
let okLatencies = new Float64Array(1 << 16);
let okCount = 0;
const statusCodes: Record<string, number> = {};

const options = (durationSeconds: number): autocannon.Options => ({
  url: job.url,
  connections: job.connections,
  duration: durationSeconds,
  ...(job.method !== undefined && { method: job.method }),
  ...(job.body !== undefined && { body: job.body }),
  headers,
  requests: [
    {
      setupRequest: (request) => {
        request.path = pick();
        return request;
      },
    },
  ],
});

/** One autocannon run; `onResponse` sees every response with its hrtime latency in ms. */
function cannon(
  durationSeconds: number,
  onResponse?: (statusCode: number, responseTime: number) => void,
): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(options(durationSeconds), (error, result) =>
      error ? reject(error) : resolve(result),
    );
    if (onResponse) {
      instance.on("response", (_client, statusCode, _resBytes, responseTime) =>
        onResponse(statusCode, responseTime),
      );
    }
  });
}

const result = await cannon(job.durationSeconds, (statusCode, responseTime) => {
  statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
  if (statusCode >= 200 && statusCode < 300) {
    if (okCount === okLatencies.length) {
      const grown = new Float64Array(okLatencies.length * 2);
      grown.set(okLatencies);
      okLatencies = grown;
    }
    okLatencies[okCount++] = responseTime;
  }
});

const sorted = okLatencies.subarray(0, okCount).sort();
const percentile = (p: number): number | null =>
  okCount === 0 ? null : (sorted[Math.min(okCount - 1, Math.ceil((p / 100) * okCount) - 1)] as number);
const ok = Object.entries(statusCodes)
  .filter(([code]) => code.startsWith("2"))
  .reduce((sum, [, count]) => sum + count, 0);

process.stdout.write(
  JSON.stringify({
    requests: result.requests.total,
    rps: result.requests.average,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    durationSeconds: result.duration,
    statusCodes,
    exact: {
      ok,
      ok_rps: ok / result.duration,
      p50_ms: percentile(50),
      p90_ms: percentile(90),
      p99_ms: percentile(99),
      p99_9_ms: percentile(99.9),
      max_ms: okCount === 0 ? null : sorted[okCount - 1],
    },
  }),
);
