/**
 * The attacks of `npm run bench:hostile`, run in their own process (bench/hostile-attacker.ts) so that the
 * attackers' CPU never shares the server's event loop. Everything here speaks raw HTTP/1.1 over node:net, so
 * the bench sees exactly what a hostile client sees: the status line, `Connection: close`, and whether (and
 * when) the server closed the socket.
 *
 * Each case is a list of attempts with the answer the server's defences must give; a case also runs a
 * well-behaved `/healthz` probe for as long as its attacks last.
 */
import { connect } from "node:net";
import { SPEC_LIMITS } from "../src/fleets/index.js";
import {
  HOSTILE_SPEC_KINDS,
  type HostileSpec,
  hostileSpecs,
} from "../src/fleets/test-support/hostile-spec.js";

/** What the attacker is told about the server under test. */
export interface ServerFacts {
  url: string;
  /** An ONNX model that answers `/v2/models/<model>/infer` with `inferBody`. */
  model: string;
  inferBody: string;
  bodyLimitBytes: number;
  artifactMaxBytes: number;
  bodyTimeoutMs: number;
}

/** What a defence must answer: a status and the catalogue code. */
export interface Expectation {
  status: number;
  code: string;
  /** The server must close the connection after answering (it did not read the whole body). */
  closes?: boolean;
}

export interface AttemptResult {
  name: string;
  route: string;
  /** Bytes the request declared (Content-Length) or was going to send. */
  bytes: number;
  expected: Expectation;
  status: number | null;
  code: string | null;
  /** From the first byte written to the answer's status line. */
  rejectMs: number | null;
  /** The answer carried `Connection: close`. */
  connectionClose: boolean;
  /** The server closed the socket (within the wait after its answer). */
  closedByServer: boolean;
  error?: string;
  ok: boolean;
}

export interface ProbeResult {
  requests: number;
  p50Ms: number | null;
  maxMs: number | null;
  /** Answers other than 200, and errors. */
  failures: string[];
}

export interface CaseResult {
  attempts: AttemptResult[];
  healthz: ProbeResult;
  /** Case `idle-bodies`: the well-behaved inference client's requests during the attack. */
  wellBehaved?: ProbeResult & { statuses: Record<string, number> };
}

// ── raw HTTP ────────────────────────────────────────────────────────────────────────────────────────────

/** An HTTP/1.1 request head (the blank line included). */
export function requestHead(method: string, path: string, headers: Record<string, string>): string {
  const lines = [`${method} ${path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/**
 * The head an idle-body attacker sends: a POST infer with a `Content-Length` it will never honour (it then
 * sends one byte and goes quiet).
 *
 * @example
 * idleInferHead("linear", 4096); // "POST /v2/models/linear/infer HTTP/1.1\r\nHost: …\r\nContent-Length: 4096\r\n\r\n"
 */
export function idleInferHead(model: string, contentLength: number, host = "127.0.0.1"): string {
  return requestHead("POST", `/v2/models/${encodeURIComponent(model)}/infer`, {
    Host: host,
    Connection: "keep-alive",
    "Content-Type": "application/json",
    "Content-Length": String(contentLength),
  });
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  /** Sent whole right after the head (with its Content-Length unless `declaredLength` says otherwise). */
  body?: string | Buffer;
  /** Content-Length to declare instead of the body's own length; `null`: none (send `Transfer-Encoding`). */
  declaredLength?: number | null;
  /** After the answer, how long to wait for the server to close the connection (0: do not wait). */
  closeWaitMs: number;
  timeoutMs: number;
}

export interface RawAnswer {
  status: number | null;
  headers: Record<string, string>;
  body: string;
  /** Status line received, ms after the connection was opened. */
  answeredMs: number | null;
  closedByServer: boolean;
  error?: string;
}

/**
 * `totalBytes` of spaces in chunked framing (64 KiB chunks, then the last chunk), one buffer: written with one
 * `socket.write`, as HTTP clients write a body, so that an answer that arrives mid-body is read before the
 * write fails on the connection the server closed (a loop of small writes races the answer and often loses).
 */
export function chunkedBody(totalBytes: number): Buffer {
  const parts: Buffer[] = [];
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  for (let sent = 0; sent < totalBytes; sent += chunk.length) {
    const n = Math.min(chunk.length, totalBytes - sent);
    parts.push(Buffer.from(`${n.toString(16)}\r\n`), chunk.subarray(0, n), Buffer.from("\r\n"));
  }
  parts.push(Buffer.from("0\r\n\r\n"));
  return Buffer.concat(parts);
}

/** One request on its own connection, read by hand. */
export function rawExchange(base: string, request: RawRequest): Promise<RawAnswer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect({ host: hostname, port: Number(port) });
    let received = Buffer.alloc(0);
    let headEnd = -1;
    let status: number | null = null;
    let headers: Record<string, string> = {};
    let body = "";
    let answeredMs: number | null = null;
    let complete = false;
    let error: string | undefined;
    let closedByServer = false;
    let settled = false;
    let closeTimer: NodeJS.Timeout | undefined;

    const settle = () => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(closeTimer);
      socket.destroy();
      resolve({
        status,
        headers,
        body,
        answeredMs,
        closedByServer,
        ...(error !== undefined && status === null && { error }),
      });
    };
    const deadline = setTimeout(() => {
      error = `no answer within ${request.timeoutMs} ms`;
      settle();
    }, request.timeoutMs);

    const parseHead = () => {
      headEnd = received.indexOf("\r\n\r\n");
      if (headEnd < 0) return;
      const [statusLine, ...lines] = received.subarray(0, headEnd).toString("latin1").split("\r\n");
      status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "")?.[1] ?? Number.NaN);
      headers = Object.fromEntries(
        lines.map((line) => {
          const colon = line.indexOf(":");
          return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
        }),
      );
      answeredMs = performance.now() - started;
    };
    const onData = (chunk: Buffer) => {
      if (complete) return;
      received = Buffer.concat([received, chunk]);
      if (headEnd < 0) parseHead();
      if (headEnd < 0) return;
      const length = Number(headers["content-length"]);
      const bodyBytes = received.length - headEnd - 4;
      if (!Number.isFinite(length) || bodyBytes < length) return;
      body = received.subarray(headEnd + 4, headEnd + 4 + length).toString("utf8");
      complete = true;
      if (request.closeWaitMs <= 0) settle();
      else closeTimer = setTimeout(settle, request.closeWaitMs);
    };
    socket.on("data", onData);
    // A reset or broken pipe after the answer is the server refusing the rest of a body: not an error.
    socket.on("error", (e: NodeJS.ErrnoException) => {
      error ??= e.code ?? e.message;
    });
    socket.on("close", () => {
      closedByServer = !settled;
      if (!complete && headEnd >= 0) body = received.subarray(headEnd + 4).toString("utf8");
      settle();
    });

    socket.on("connect", () => {
      const body = request.body === undefined ? undefined : Buffer.from(request.body);
      const declared = request.declaredLength === undefined ? body?.length : request.declaredLength;
      socket.write(
        requestHead(request.method, request.path, {
          Host: hostname,
          Connection: "keep-alive",
          "Content-Type": "application/json",
          ...(declared === null
            ? { "Transfer-Encoding": "chunked" }
            : declared !== undefined && { "Content-Length": String(declared) }),
          ...request.headers,
        }),
      );
      if (body !== undefined) socket.write(body);
    });
  });
}

// ── answers ─────────────────────────────────────────────────────────────────────────────────────────────

/**
 * `/v2` answers in the Open Inference Protocol's shape, `{"error": "<message>"}`, without the catalogue code;
 * the code is the one whose message the answer carries (the messages are the server's, see error-handler.ts,
 * body-guard.ts and oip.routes.ts).
 */
const OIP_MESSAGES: Array<[RegExp, string]> = [
  [/arrived too slowly/, "BODY_TIMEOUT"],
  [/request body is larger than/, "BODY_TOO_LARGE"],
  [/nests arrays and objects deeper than/, "INFER_REQUEST_INVALID"],
  [/^overloaded/, "OVERLOADED"],
];

/** The catalogue code of an error answer: the envelope's `error.code`, or the code of a `/v2` message. */
export function errorCodeOf(body: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  const error = (parsed as { error?: unknown } | null)?.error;
  if (typeof error === "object" && error !== null) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? code : null;
  }
  if (typeof error === "string") {
    for (const [pattern, code] of OIP_MESSAGES) if (pattern.test(error)) return code;
    return `v2: ${error.slice(0, 60)}`;
  }
  return null;
}

function judge(name: string, route: string, bytes: number, expected: Expectation, answer: RawAnswer) {
  const code = answer.status === null ? null : errorCodeOf(answer.body);
  const connectionClose = (answer.headers.connection ?? "").toLowerCase() === "close";
  const ok =
    answer.status === expected.status &&
    code === expected.code &&
    (expected.closes !== true || (connectionClose && answer.closedByServer));
  return {
    name,
    route,
    bytes,
    expected,
    status: answer.status,
    code,
    rejectMs: answer.answeredMs,
    connectionClose,
    closedByServer: answer.closedByServer,
    ...(answer.error !== undefined && { error: answer.error }),
    ok,
  } satisfies AttemptResult;
}

// ── the well-behaved clients ────────────────────────────────────────────────────────────────────────────

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Asks `path` one request at a time, `gapMs` apart, until `stop()` is true; at least once. */
async function probe(
  base: string,
  path: string,
  init: RequestInit,
  gapMs: number,
  stop: () => boolean,
): Promise<ProbeResult & { statuses: Record<string, number> }> {
  const latencies: number[] = [];
  const failures: string[] = [];
  const statuses: Record<string, number> = {};
  do {
    const started = performance.now();
    try {
      const res = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
      const text = await res.text();
      latencies.push(performance.now() - started);
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status !== 200 && failures.length < 5) failures.push(`${res.status} ${text.slice(0, 200)}`);
    } catch (error) {
      statuses.error = (statuses.error ?? 0) + 1;
      if (failures.length < 5) failures.push(String((error as Error).message));
    }
    await sleep(gapMs);
  } while (!stop());
  return {
    requests: latencies.length,
    p50Ms: percentile(latencies, 50),
    maxMs: latencies.length === 0 ? null : Math.max(...latencies),
    failures,
    statuses,
  };
}

// ── the cases ───────────────────────────────────────────────────────────────────────────────────────────

export interface CaseOptions {
  repeat: number;
  idleSockets: number;
  idleDeclaredBytes: number;
  depth: number;
  timeoutMs: number;
  /** Oversized bodies are this many times the limit they break. */
  oversizeFactor: number;
}

interface Attempt {
  name: string;
  route: string;
  request: RawRequest;
  expected: Expectation;
}

const DIGEST = `sha256:${"0".repeat(64)}`;
const P = "/api/v1/projects/default";

/** The fleet submission route's own body limit (fleets.routes.ts: 3 bytes per spec character + 16 KiB). */
export const SUBMIT_LIMIT_BYTES = 3 * SPEC_LIMITS.maxChars + 16 * 1024;

/**
 * 400 with the route's code when the body is read; 413 BODY_TOO_LARGE, connection closed, when its declared
 * length is over the route's limit (refused before any of it is read).
 */
/** How long to wait for the server to close a connection it must close. */
const closeWait = (expected: Expectation) => (expected.closes === true ? 2_000 : 0);

function parsedOrTooLarge(bytes: number, limit: number, code: string): Expectation {
  return bytes > limit ? { status: 413, code: "BODY_TOO_LARGE", closes: true } : { status: 400, code };
}

/** The hostile fleet specs of src/fleets/test-support at `chars` characters, as the regression test posts them. */
function specAttempts(facts: ServerFacts, chars: number, o: CaseOptions): Attempt[] {
  const specs: HostileSpec[] = hostileSpecs(chars);
  const limit = Math.min(SUBMIT_LIMIT_BYTES, facts.bodyLimitBytes);
  return HOSTILE_SPEC_KINDS.flatMap((kind) => {
    const spec = specs.find((s) => s.name === kind) as HostileSpec;
    const forms = kind.startsWith("json") ? (["text", "object"] as const) : (["text"] as const);
    return forms.map((form) => {
      const body =
        form === "text"
          ? JSON.stringify({ spec: spec.text, format: spec.format, datasetDigest: DIGEST })
          : `{"datasetDigest":"${DIGEST}","spec":${spec.text}}`;
      const expected = parsedOrTooLarge(Buffer.byteLength(body), limit, "VALIDATION_FAILED");
      return {
        name: `${kind} (${form})`,
        route: `POST ${P}/fleets`,
        request: {
          method: "POST",
          path: `${P}/fleets`,
          body,
          closeWaitMs: closeWait(expected),
          timeoutMs: o.timeoutMs,
        },
        expected,
      };
    });
  });
}

/** Every mutating route that takes a JSON body, and where in its body the deep value goes. */
function mutatingRoutes(
  facts: ServerFacts,
): Array<{ method: string; path: string; wrap: (deep: string) => string }> {
  const inside = (deep: string) => `{"name":"deep","description":${deep}}`;
  const infer = (deep: string) =>
    `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":${deep}}]}`;
  const m = encodeURIComponent(facts.model);
  return [
    {
      method: "POST",
      path: `${P}/models/deep/versions`,
      wrap: (d) => `{"runtime":"skala.forecast","artifact":{"json":${d}}}`,
    },
    {
      method: "POST",
      path: `${P}/bulk/versions`,
      wrap: (d) => `{"versions":[{"model":"deep","runtime":"skala.forecast","artifact":{"json":${d}}}]}`,
    },
    {
      method: "POST",
      path: `${P}/fleets`,
      wrap: (d) => `{"datasetDigest":"${DIGEST}","spec":{"series":${d}}}`,
    },
    { method: "POST", path: "/api/v1/projects", wrap: inside },
    { method: "POST", path: `${P}/models`, wrap: inside },
    { method: "PATCH", path: `${P}/models/deep`, wrap: inside },
    { method: "PATCH", path: `${P}/models/deep/versions/1`, wrap: (d) => `{"tags":${d}}` },
    { method: "POST", path: `${P}/versions/search`, wrap: (d) => `{"filter":${d}}` },
    { method: "PUT", path: `${P}/environments/production/deployments/deep`, wrap: (d) => `{"routes":${d}}` },
    { method: "PUT", path: `${P}/models/deep/aliases/champion`, wrap: (d) => `{"version":${d}}` },
    { method: "POST", path: `${P}/runs`, wrap: (d) => `{"params":${d}}` },
    { method: "POST", path: `${P}/runs/r1/params`, wrap: (d) => `{"params":${d}}` },
    { method: "POST", path: `${P}/runs/r1/metrics`, wrap: (d) => `{"metrics":${d}}` },
    { method: "POST", path: `${P}/runs/r1/artifacts`, wrap: (d) => `{"artifacts":${d}}` },
    { method: "POST", path: `${P}/runs/r1/finish`, wrap: (d) => `{"status":${d}}` },
    { method: "POST", path: `${P}/datasets/d/versions`, wrap: (d) => `{"digest":${d}}` },
    { method: "POST", path: `${P}/fleets/f/cancel`, wrap: (d) => `{"reason":${d}}` },
    { method: "POST", path: `${P}/scoring-jobs`, wrap: (d) => `{"input":${d}}` },
    { method: "POST", path: `${P}/scoring-jobs/j1/cancel`, wrap: (d) => `{"reason":${d}}` },
    { method: "POST", path: `/v2/models/${m}/infer`, wrap: infer },
    { method: "POST", path: `/v2/models/${m}/versions/1/infer`, wrap: infer },
    { method: "POST", path: "/v2/repository/index", wrap: (d) => `{"ready":${d}}` },
    { method: "POST", path: `/v2/repository/models/${m}/load`, wrap: (d) => `{"parameters":${d}}` },
    { method: "POST", path: `/v2/repository/models/${m}/unload`, wrap: (d) => `{"parameters":${d}}` },
  ];
}

/** `[[[…]]]` or `{"a":{"a":…1}}`, `depth` levels. */
export function deepJson(shape: "arrays" | "objects", depth: number): string {
  return shape === "arrays"
    ? `${"[".repeat(depth)}${"]".repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
}

function deepAttempts(facts: ServerFacts, o: CaseOptions, api: "/api" | "/v2"): Attempt[] {
  return mutatingRoutes(facts)
    .filter((r) => r.path.startsWith(api))
    .flatMap((r) =>
      (["arrays", "objects"] as const).map((shape) => {
        const body = r.wrap(deepJson(shape, o.depth));
        const limit =
          r.path === `${P}/fleets`
            ? Math.min(SUBMIT_LIMIT_BYTES, facts.bodyLimitBytes)
            : facts.bodyLimitBytes;
        const expected = parsedOrTooLarge(
          Buffer.byteLength(body),
          limit,
          api === "/v2" ? "INFER_REQUEST_INVALID" : "VALIDATION_FAILED",
        );
        return {
          name: `${shape} ×${o.depth}`,
          route: `${r.method} ${r.path}`,
          request: {
            method: r.method,
            path: r.path,
            body,
            closeWaitMs: closeWait(expected),
            timeoutMs: o.timeoutMs,
          },
          expected,
        };
      }),
    );
}

function oversizeAttempts(facts: ServerFacts, o: CaseOptions, target: "artifacts" | "v2" | "api"): Attempt[] {
  const m = encodeURIComponent(facts.model);
  const route =
    target === "artifacts"
      ? { path: "/api/v1/artifacts", limit: facts.artifactMaxBytes, code: "ARTIFACT_TOO_LARGE" }
      : target === "v2"
        ? { path: `/v2/models/${m}/infer`, limit: facts.bodyLimitBytes, code: "BODY_TOO_LARGE" }
        : { path: `${P}/bulk/versions`, limit: facts.bodyLimitBytes, code: "BODY_TOO_LARGE" };
  const totalBytes = Math.ceil(route.limit * o.oversizeFactor);
  const plain = Buffer.alloc(totalBytes, 0x20);
  const chunked = chunkedBody(totalBytes);
  return (["content-length", "chunked"] as const).map((framing) => ({
    name: `${framing}, ${totalBytes} bytes (limit ${route.limit})`,
    route: `POST ${route.path}`,
    request: {
      method: "POST",
      path: route.path,
      ...(target === "artifacts" && { headers: { "Content-Type": "application/octet-stream" } }),
      body: framing === "chunked" ? chunked : plain,
      ...(framing === "chunked" && { declaredLength: null }),
      closeWaitMs: 2_000,
      timeoutMs: o.timeoutMs,
    },
    expected: { status: 413, code: route.code, closes: true },
  }));
}

/** The names of the cases, in the order the bench runs them; `specs:<chars>` for each spec size. */
export function caseNames(specChars: number[]): string[] {
  return [
    ...specChars.map((chars) => `specs:${chars}`),
    "idle-bodies",
    "deep-json /api",
    "deep-json /v2",
    "oversize /api/v1/artifacts",
    "oversize /v2 infer",
    "oversize /api JSON",
  ];
}

/**
 * Builds a case's attempts (before the measured part: building megabytes of hostile text is the attacker's
 * cost, not the server's) and returns the function that runs them.
 */
export function prepareCase(name: string, facts: ServerFacts, o: CaseOptions): () => Promise<CaseResult> {
  if (name === "idle-bodies") return () => idleBodies(facts, o);
  let attempts: Attempt[];
  if (name.startsWith("specs:")) attempts = specAttempts(facts, Number(name.slice(6)), o);
  else if (name === "warmup") {
    attempts = [
      ...specAttempts(facts, 2_000, o),
      ...deepAttempts(facts, { ...o, depth: 100 }, "/api"),
      ...deepAttempts(facts, { ...o, depth: 100 }, "/v2"),
    ];
  } else if (name === "deep-json /api") attempts = deepAttempts(facts, o, "/api");
  else if (name === "deep-json /v2") attempts = deepAttempts(facts, o, "/v2");
  else if (name === "oversize /api/v1/artifacts") attempts = oversizeAttempts(facts, o, "artifacts");
  else if (name === "oversize /v2 infer") attempts = oversizeAttempts(facts, o, "v2");
  else if (name === "oversize /api JSON") attempts = oversizeAttempts(facts, o, "api");
  else throw new Error(`no case ${name}`);
  const repeat = name === "warmup" ? 1 : o.repeat;
  return async () => {
    let attacking = true;
    const healthz = probe(facts.url, "/healthz", {}, 10, () => !attacking);
    const results: AttemptResult[] = [];
    try {
      for (let i = 0; i < repeat; i++) {
        for (const a of attempts) {
          const answer = await rawExchange(facts.url, a.request);
          const bytes = a.request.declaredLength ?? Buffer.byteLength(a.request.body ?? "");
          results.push(judge(a.name, a.route, bytes, a.expected, answer));
        }
      }
    } finally {
      attacking = false;
    }
    const { statuses: _, ...probeResult } = await healthz;
    return { attempts: results, healthz: probeResult };
  };
}

/**
 * `idleSockets` connections send the head of a POST infer declaring `idleDeclaredBytes`, one byte, then
 * nothing; a well-behaved client keeps inferring (one request at a time) until every idle socket has its
 * answer. The server must answer each idle socket 408 BODY_TIMEOUT with `Connection: close` and close it.
 */
async function idleBodies(facts: ServerFacts, o: CaseOptions): Promise<CaseResult> {
  const path = `/v2/models/${encodeURIComponent(facts.model)}/infer`;
  let attacking = true;
  const healthz = probe(facts.url, "/healthz", {}, 10, () => !attacking);
  const expected: Expectation = { status: 408, code: "BODY_TIMEOUT", closes: true };
  const idle = Array.from({ length: o.idleSockets }, () =>
    rawExchange(facts.url, {
      method: "POST",
      path,
      body: "{",
      declaredLength: o.idleDeclaredBytes,
      closeWaitMs: 2_000,
      timeoutMs: facts.bodyTimeoutMs + o.timeoutMs,
    }),
  );
  // Let the sockets connect and send their byte before the well-behaved client starts.
  await sleep(100);
  let settled = 0;
  for (const exchange of idle) void exchange.then(() => settled++);
  const wellBehaved = probe(
    facts.url,
    path,
    { method: "POST", body: facts.inferBody, headers: { "content-type": "application/json" } },
    20,
    () => settled === idle.length,
  );
  const answers = await Promise.all(idle);
  const client = await wellBehaved;
  attacking = false;
  const { statuses: _, ...probeResult } = await healthz;
  return {
    attempts: answers.map((answer) =>
      judge(
        `${o.idleSockets} sockets: head + 1 of ${o.idleDeclaredBytes} bytes, then idle`,
        `POST ${path}`,
        o.idleDeclaredBytes,
        expected,
        answer,
      ),
    ),
    healthz: probeResult,
    wellBehaved: client,
  };
}
