/**
 * Hostile-client benchmark: the real server (`startServer`, what `skala up` runs: SQLite on a temp data dir,
 * file-system blobs, a real ONNX model) in THIS process, so that its event loop's worst lag is measured
 * directly (perf_hooks.monitorEventLoopDelay, reset before each case), and the attackers in a separate child
 * process (bench/hostile-attacker.ts), so that their CPU never shares the server's loop.
 *
 *   specs:<chars>   the hostile fleet specs of src/fleets/test-support/hostile-spec.ts posted to POST …/fleets
 *   idle-bodies     N sockets send a POST infer head and one byte, then nothing; a well-behaved client infers
 *   deep-json       bodies nested --depth levels on every mutating JSON route of /api and /v2
 *   oversize        bodies over the limit (Content-Length and chunked) on /api/v1/artifacts, /v2 infer, /api
 *
 * Per case: time-to-reject p50/max, the statuses and codes received, the server loop's worst lag (target
 * < 100 ms) and its ratio to the target, and the slowest answer of a well-behaved /healthz probe during the
 * attack. Writes bench/results/hostile.json. Exits 1 when an answer is a 5xx, has the wrong status or code,
 * keeps a connection the server should close, or never comes; lag over the target is reported, not failed.
 *
 *   npm run bench:hostile [-- --idle-sockets 300 --body-timeout-ms 2000 --depth 100000 --repeat 3 …]
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import Table from "cli-table3";
import { Command } from "commander";
import { startServer } from "../src/cli/compose.js";
import { loadConfig } from "../src/core/index.js";
import { SPEC_LIMITS } from "../src/fleets/index.js";
import { DEFAULT_PROJECT } from "../src/registry/index.js";
import { buildTestModel, randomInput } from "../src/serving/test-support/onnx-models/index.js";
import type { FromAttacker, ToAttacker } from "./hostile-attacker.js";
import {
  type AttemptResult,
  type CaseOptions,
  type CaseResult,
  caseNames,
  type ServerFacts,
  SUBMIT_LIMIT_BYTES,
} from "./hostile-attacks.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const int = (v: string) => Number.parseInt(v, 10);
const MiB = 1_048_576;
const LAG_TARGET_MS = 100;

const options = new Command()
  .option("--repeat <n>", "times each attempt is made (spec, deep and oversize cases)", int, 3)
  .option("--idle-sockets <n>", "idle-body sockets", int, 300)
  .option("--idle-declared-bytes <n>", "Content-Length the idle sockets declare", int, 4096)
  .option(
    "--body-timeout-ms <ms>",
    "server.bodyTimeoutMs of the server under test (default setting 10000)",
    int,
    2_000,
  )
  .option("--body-limit-mb <mb>", "server.bodyLimitBytes in MiB (default setting 64)", int, 8)
  .option("--artifact-limit-mb <mb>", "artifacts.maxBytes in MiB (default setting 2048)", int, 8)
  .option("--depth <n>", "nesting of the deep-JSON bodies", int, 100_000)
  .option(
    "--spec-chars <list>",
    "sizes of the hostile fleet specs, in characters",
    (v) => v.split(",").map(int),
    [1_000_000, SPEC_LIMITS.maxChars, 7_000],
  )
  .option("--oversize-factor <x>", "oversized bodies are this many times their limit", Number.parseFloat, 2)
  .option("--timeout-ms <ms>", "an answer later than this is a hang", int, 30_000)
  .option("--only <names>", "comma-separated case names (prefixes) to run")
  .parse()
  .opts<{
    repeat: number;
    idleSockets: number;
    idleDeclaredBytes: number;
    bodyTimeoutMs: number;
    bodyLimitMb: number;
    artifactLimitMb: number;
    depth: number;
    specChars: number[];
    oversizeFactor: number;
    timeoutMs: number;
    only?: string;
  }>();

const fmt = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(digits);
const round = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? null : Math.round(v * 100) / 100;
function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const failures: string[] = [];
const started = performance.now();
const loadAtStart = loadavg()[0] as number;

// ── the server, in this process ─────────────────────────────────────────────────────────────────────────

const tmp = mkdtempSync(join(tmpdir(), "skala-bench-hostile-"));
const config = loadConfig({
  env: {},
  cwd: tmp,
  flags: {
    dataDir: join(tmp, "data"),
    "server.host": "127.0.0.1",
    "server.port": 0,
    "server.bodyTimeoutMs": options.bodyTimeoutMs,
    "server.bodyLimitBytes": options.bodyLimitMb * MiB,
    "artifacts.maxBytes": options.artifactLimitMb * MiB,
    "log.level": "silent",
    "workers.enabled": false,
  },
});
const server = await startServer(config);
const MODEL = "linear";
const FEATURES = 4;
await server.services.registry.versions.bulkRegister(DEFAULT_PROJECT, {
  versions: [
    {
      model: MODEL,
      runtime: "onnx",
      artifact: {
        base64: Buffer.from(
          buildTestModel({ kind: "linear", inputs: FEATURES, outputs: 2, seed: 1 }),
        ).toString("base64"),
      },
    },
  ],
});
const inferBody = JSON.stringify({
  inputs: [
    { name: "input", datatype: "FP32", shape: [1, FEATURES], data: Array.from(randomInput(FEATURES, 1, 1)) },
  ],
});
const check = await fetch(`${server.url}/v2/models/${MODEL}/infer`, { method: "POST", body: inferBody });
if (check.status !== 200) throw new Error(`the test model answered ${check.status}: ${await check.text()}`);
await check.arrayBuffer().catch(() => undefined);

const facts: ServerFacts = {
  url: server.url,
  model: MODEL,
  inferBody,
  bodyLimitBytes: config.server.bodyLimitBytes,
  artifactMaxBytes: config.artifacts.maxBytes,
  bodyTimeoutMs: config.server.bodyTimeoutMs,
};
const caseOptions: CaseOptions = {
  repeat: options.repeat,
  idleSockets: options.idleSockets,
  idleDeclaredBytes: options.idleDeclaredBytes,
  depth: options.depth,
  timeoutMs: options.timeoutMs,
  oversizeFactor: options.oversizeFactor,
};

// ── the attacker, in its own process ────────────────────────────────────────────────────────────────────

const attacker: ChildProcess = fork(join(ROOT, "bench/hostile-attacker.ts"), [], {
  execArgv: ["--import", "tsx"],
  cwd: ROOT,
  stdio: ["ignore", "inherit", "inherit", "ipc"],
});
function nextMessage(): Promise<FromAttacker> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`the attacker process exited with ${code}`));
    attacker.once("exit", onExit);
    attacker.once("message", (message: FromAttacker) => {
      attacker.off("exit", onExit);
      resolve(message);
    });
  });
}
const tell = (message: ToAttacker) => attacker.send(message);

const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

interface Measured {
  name: string;
  result: CaseResult;
  lagMaxMs: number;
  lagP99Ms: number;
  wallMs: number;
}

async function runCase(name: string): Promise<Measured> {
  tell({ type: "prepare", name, facts, options: caseOptions });
  const ready = await nextMessage();
  if (ready.type !== "ready")
    throw new Error(`${name}: ${ready.type === "failed" ? ready.message : ready.type}`);
  const done = nextMessage();
  loop.reset();
  const caseStarted = performance.now();
  tell({ type: "go" });
  const answer = await done;
  const lagMaxMs = loop.max / 1e6;
  const lagP99Ms = loop.percentile(99) / 1e6;
  const wallMs = performance.now() - caseStarted;
  if (answer.type !== "done")
    throw new Error(`${name}: ${answer.type === "failed" ? answer.message : answer.type}`);
  return { name, result: answer.result, lagMaxMs, lagP99Ms, wallMs };
}

const names = caseNames(options.specChars).filter(
  (name) => options.only === undefined || options.only.split(",").some((prefix) => name.startsWith(prefix)),
);
process.stdout.write(
  `Hostile-client benchmark: server ${server.url} (pid ${process.pid}, this process), attacker pid ${attacker.pid}; ` +
    `server.bodyTimeoutMs ${facts.bodyTimeoutMs}, server.bodyLimitBytes ${facts.bodyLimitBytes}, ` +
    `artifacts.maxBytes ${facts.artifactMaxBytes}\n`,
);

const measured: Measured[] = [];
try {
  // JIT, connections, the first parse of each kind: small versions of every attempt, not reported.
  await runCase("warmup");
  for (const name of names) {
    process.stdout.write(`  ${name}…\n`);
    measured.push(await runCase(name));
  }
} catch (error) {
  failures.push((error as Error).message);
} finally {
  tell({ type: "exit" });
  await new Promise((resolve) => {
    if (attacker.exitCode !== null) resolve(undefined);
    else attacker.once("exit", resolve);
  });
  loop.disable();
  await server.app.close();
  rmSync(tmp, { recursive: true, force: true });
}

// ── report ──────────────────────────────────────────────────────────────────────────────────────────────

const answerOf = (a: AttemptResult) =>
  a.status === null ? (a.error ?? "no answer") : `${a.status} ${a.code ?? "—"}`;
function tally(attempts: AttemptResult[]): string {
  const counts = new Map<string, number>();
  for (const a of attempts) counts.set(answerOf(a), (counts.get(answerOf(a)) ?? 0) + 1);
  return [...counts].map(([answer, n]) => `${n}× ${answer}`).join(", ");
}

for (const m of measured) {
  for (const a of m.result.attempts) {
    if (a.ok) continue;
    const why =
      a.status !== null && a.status >= 500
        ? "a 5xx"
        : a.status === a.expected.status && a.code === a.expected.code
          ? `the connection was not closed (Connection: close ${a.connectionClose ? "sent" : "missing"}, server closed: ${a.closedByServer})`
          : `expected ${a.expected.status} ${a.expected.code}`;
    failures.push(`${m.name}: ${a.route} ${a.name}: ${answerOf(a)} — ${why}`);
  }
  for (const f of m.result.healthz.failures) failures.push(`${m.name}: /healthz probe: ${f}`);
  for (const f of m.result.wellBehaved?.failures ?? [])
    failures.push(`${m.name}: well-behaved inference: ${f}`);
}
/** Each distinct attempt (route and body) with its answers and reject times over the repeats. */
function byAttempt(attempts: AttemptResult[]) {
  const groups = new Map<string, AttemptResult[]>();
  for (const a of attempts) {
    const key = `${a.route} ${a.name}`;
    groups.set(key, [...(groups.get(key) ?? []), a]);
  }
  return [...groups].map(([key, group]) => {
    const rejects = group.map((a) => a.rejectMs).filter((v): v is number => v !== null);
    return {
      attempt: key,
      bytes: group[0]?.bytes,
      expected: group[0]?.expected,
      answers: tally(group),
      reject_p50_ms: round(percentile(rejects, 50)),
      reject_max_ms: round(rejects.length === 0 ? null : Math.max(...rejects)),
    };
  });
}

// One line per distinct problem is enough: 300 idle sockets failing the same way are one problem.
const problems = [...new Set(failures)];

const table = new Table({
  head: [
    "case",
    "attempts",
    "reject p50 ms",
    "reject max ms",
    "answers",
    "closed",
    "loop lag max ms",
    "÷ 100 ms",
    "/healthz max ms",
    "result",
  ],
  style: { head: [], border: [] },
});
const rows = measured.map((m) => {
  const attempts = m.result.attempts;
  const rejects = attempts.map((a) => a.rejectMs).filter((v): v is number => v !== null);
  const mustClose = attempts.filter((a) => a.expected.closes === true);
  const closed = mustClose.filter((a) => a.connectionClose && a.closedByServer).length;
  const slowest = attempts.reduce<AttemptResult | undefined>(
    (worst, a) => ((a.rejectMs ?? Number.POSITIVE_INFINITY) > (worst?.rejectMs ?? -1) ? a : worst),
    undefined,
  );
  const pass =
    attempts.every((a) => a.ok) &&
    m.result.healthz.failures.length === 0 &&
    (m.result.wellBehaved?.failures.length ?? 0) === 0;
  return {
    name: m.name,
    attempts: attempts.length,
    reject_p50_ms: round(percentile(rejects, 50)),
    reject_max_ms: round(rejects.length === 0 ? null : Math.max(...rejects)),
    slowest: slowest && { route: slowest.route, name: slowest.name, ms: round(slowest.rejectMs) },
    answers: tally(attempts),
    closed: mustClose.length === 0 ? null : { closed, of: mustClose.length },
    loop_lag_max_ms: round(m.lagMaxMs),
    loop_lag_p99_ms: round(m.lagP99Ms),
    lag_ratio_to_target: round(m.lagMaxMs / LAG_TARGET_MS),
    lag_over_target: m.lagMaxMs >= LAG_TARGET_MS,
    healthz: {
      requests: m.result.healthz.requests,
      p50_ms: round(m.result.healthz.p50Ms),
      max_ms: round(m.result.healthz.maxMs),
    },
    ...(m.result.wellBehaved && {
      well_behaved_inference: {
        requests: m.result.wellBehaved.requests,
        statuses: m.result.wellBehaved.statuses,
        p50_ms: round(m.result.wellBehaved.p50Ms),
        max_ms: round(m.result.wellBehaved.maxMs),
      },
    }),
    wall_ms: Math.round(m.wallMs),
    pass,
    by_attempt: byAttempt(attempts),
  };
});
for (const r of rows) {
  table.push([
    r.name,
    String(r.attempts),
    fmt(r.reject_p50_ms),
    fmt(r.reject_max_ms),
    r.answers,
    r.closed === null ? "n/a" : `${r.closed.closed}/${r.closed.of}`,
    fmt(r.loop_lag_max_ms),
    `${fmt(r.lag_ratio_to_target, 2)}${r.lag_over_target ? " OVER TARGET" : ""}`,
    fmt(r.healthz.max_ms),
    r.pass ? "PASS" : "FAIL",
  ]);
}

const machine = `${availableParallelism()} cores (${cpus()[0]?.model ?? "?"})`;
console.log(
  `\nHostile-client benchmark — server in the bench process (startServer: SQLite, fs blobs, one ONNX model), attacks from a child process`,
);
console.log(
  `settings: server.bodyTimeoutMs ${facts.bodyTimeoutMs} ms (default 10000), server.bodyMinBytesPerSecond ${config.server.bodyMinBytesPerSecond}, ` +
    `server.bodyLimitBytes ${facts.bodyLimitBytes} (default 64 MiB), artifacts.maxBytes ${facts.artifactMaxBytes}, fleet submit limit ${Math.min(SUBMIT_LIMIT_BYTES, facts.bodyLimitBytes)}; ` +
    `--repeat ${options.repeat}, --idle-sockets ${options.idleSockets}, --depth ${options.depth}, --spec-chars ${options.specChars.join(",")}`,
);
console.log(
  `machine: ${machine}; load average (1 min) ${fmt(loadAtStart, 1)} at the start, ${fmt(loadavg()[0], 1)} at the end. The server, the attacker and the probe share these cores: lag and latencies include other work on the box.`,
);
console.log(table.toString());
console.log(
  "reject: ms from the attacker opening its connection to the answer's status line. answers: status and catalogue code (on /v2 the code whose message the protocol's {error} answer carries). " +
    "closed: answers that must close the connection (unread bodies) that sent Connection: close and were closed by the server. " +
    `loop lag: perf_hooks.monitorEventLoopDelay in the server's process, reset before each case; target < ${LAG_TARGET_MS} ms (over target is reported, not failed). /healthz: a well-behaved probe from the attacker process, one request at a time, 10 ms apart.`,
);
for (const r of rows) {
  if (r.slowest)
    console.log(`  ${r.name}: slowest ${r.slowest.route} ${r.slowest.name} ${fmt(r.slowest.ms)} ms`);
  if (r.well_behaved_inference) {
    const w = r.well_behaved_inference;
    console.log(
      `  ${r.name}: well-behaved POST /v2/models/${MODEL}/infer during the attack: ${w.requests} requests, ${Object.entries(
        w.statuses,
      )
        .map(([s, n]) => `${n}× ${s}`)
        .join(", ")}, p50 ${fmt(w.p50_ms)} ms, max ${fmt(w.max_ms)} ms`,
    );
  }
}

const summary = {
  cases: rows,
  settings: {
    body_timeout_ms: facts.bodyTimeoutMs,
    body_min_bytes_per_second: config.server.bodyMinBytesPerSecond,
    body_limit_bytes: facts.bodyLimitBytes,
    artifact_max_bytes: facts.artifactMaxBytes,
    fleet_submit_limit_bytes: Math.min(SUBMIT_LIMIT_BYTES, facts.bodyLimitBytes),
    repeat: options.repeat,
    idle_sockets: options.idleSockets,
    idle_declared_bytes: options.idleDeclaredBytes,
    depth: options.depth,
    spec_chars: options.specChars,
    oversize_factor: options.oversizeFactor,
    lag_target_ms: LAG_TARGET_MS,
  },
  machine,
  node: process.version,
  load_average_at_start: round(loadAtStart),
  load_average_at_end: round(loadavg()[0]),
  failures: problems,
  measured_at: new Date().toISOString(),
};
writeFileSync(join(ROOT, "bench/results/hostile.json"), `${JSON.stringify(summary, null, 2)}\n`);
console.log(`written: bench/results/hostile.json (${fmt((performance.now() - started) / 1000, 0)} s in all)`);

if (problems.length > 0) {
  console.error(`\nPRODUCT PROBLEMS (${problems.length}):\n- ${problems.slice(0, 40).join("\n- ")}`);
  process.exitCode = 1;
}
