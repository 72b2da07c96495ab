/**
 * Load generator for the benchmarks, run as its own process so that it does not share an event loop (or a
 * core's time slices in one process) with the server it measures. Reads a JSON job from argv, prints the
 * autocannon summary as JSON on stdout.
 */
import autocannon from "autocannon";

interface Job {
  url: string;
  /** Paths to request, picked at random for each request (bounded: a random model per request). */
  paths: string[];
  connections: number;
  durationSeconds: number;
}

const job = JSON.parse(process.argv[2] ?? "{}") as Job;
if (!job.url || !Array.isArray(job.paths) || job.paths.length === 0) {
  process.stderr.write(
    'usage: load-generator \'{"url":…,"paths":[…],"connections":16,"durationSeconds":5}\'\n',
  );
  process.exit(2);
}

const result = await autocannon({
  url: job.url,
  connections: job.connections,
  duration: job.durationSeconds,
  requests: [
    {
      setupRequest: (request) => {
        request.path = job.paths[Math.floor(Math.random() * job.paths.length)] as string;
        return request;
      },
    },
  ],
});
process.stdout.write(
  JSON.stringify({
    requests: result.requests.total,
    rps: result.requests.average,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
  }),
);
