import pretty from "pino-pretty";
import type { SkalaConfig } from "../core/index.js";
import type { TextSink } from "./output.js";

/** Where the server's log lines go: JSON lines as they are, or pino-pretty's human-readable lines. */
export interface LogDestination {
  write(line: string): void;
}

/** `auto` means pretty on a terminal (people read it) and JSON otherwise (a collector parses it). */
export function resolveLogFormat(format: SkalaConfig["log"]["format"], sink: TextSink): "json" | "pretty" {
  if (format === "auto") return sink.isTTY === true ? "pretty" : "json";
  return format;
}

/**
 * The destination for `skala up`'s log on `sink` (stdout), in the configured format; pretty lines are
 * coloured on a terminal unless `NO_COLOR` is set (https://no-color.org).
 */
export function logDestination(
  format: SkalaConfig["log"]["format"],
  sink: TextSink,
  env: Readonly<Record<string, string | undefined>>,
): LogDestination {
  if (resolveLogFormat(format, sink) === "json") return { write: (line) => void sink.write(line) };
  return pretty({
    destination: sink,
    colorize: sink.isTTY === true && !env.NO_COLOR,
    sync: true,
    translateTime: "SYS:HH:MM:ss.l",
    // Fastify's request lines carry req/res objects; one line each says the same.
    ignore: "pid,hostname,reqId,req,res,responseTime",
    messageFormat:
      "{msg}{if req.method} {req.method} {req.url}{end}{if res.statusCode} → {res.statusCode} in {responseTime} ms{end}",
  });
}
