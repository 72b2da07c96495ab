import { dirname, resolve } from "node:path";
import type { Readable } from "node:stream";
import cliProgress from "cli-progress";
import type { FleetProgress, FleetReport, FleetRun } from "../fleets/index.js";
import { parseFleetSpec, SPEC_LIMITS } from "../fleets/index.js";
import type { SkalaClient } from "./client.js";
import { confinedDatasetPath, readTextFile } from "./files.js";
import type { TextSink } from "./output.js";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

/**
 * Largest fleet spec file read (384 KiB): a UTF-8 byte is at least a third of a character, so a larger file
 * holds more than the SPEC_LIMITS.maxChars characters any spec may have.
 */
export const SPEC_FILE_MAX_BYTES = 3 * SPEC_LIMITS.maxChars;

/** Thrown when the user stops following a run (Ctrl-C): the run goes on in the server. */
export class FleetDetached extends Error {
  constructor(
    readonly project: string,
    readonly fleet: string,
    readonly run: FleetRun,
  ) {
    super(`detached from fleet ${fleet} run ${run.id}`);
  }
}

/** Reads server-sent events from a stream and yields each event's parsed data. */
async function* serverSentEvents<T>(body: Readable): AsyncGenerator<{ event: string; data: T }> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data) yield { event, data: JSON.parse(data) as T };
      end = buffer.indexOf("\n\n");
    }
  }
}

/**
 * Follows a run's progress with a progress bar on `progress` (a line every few seconds when it is not a
 * terminal) until the run ends, or until `detach` aborts.
 */
export async function followFleet(
  client: SkalaClient,
  target: { project: string; fleet: string; runId: string },
  options: { progress: TextSink; detach?: AbortSignal },
): Promise<FleetProgress> {
  const bar = new cliProgress.SingleBar(
    {
      format: `${target.fleet} {bar} {percentage}% | {value}/{total} segments | {rate}/s | {failed} failed | ETA {eta_formatted}`,
      noTTYOutput: true,
      notTTYSchedule: 3_000,
      etaBuffer: 50,
      stream: options.progress,
    },
    cliProgress.Presets.shades_classic,
  );
  const request = {
    params: { project: target.project, fleet: target.fleet },
    query: { run: target.runId },
  };
  let last: FleetProgress | undefined;
  try {
    const events = await client.stream("streamFleetEvents", request, {
      ...(options.detach && { signal: options.detach }),
    });
    for await (const { data } of serverSentEvents<FleetProgress>(events)) {
      if (!last) bar.start(data.run.total, 0, { rate: "0", failed: 0 });
      bar.setTotal(data.run.total);
      bar.update(data.done, { rate: data.rate.toFixed(1), failed: data.failed });
      last = data;
      if (TERMINAL.has(data.run.status)) break;
    }
  } finally {
    bar.stop();
  }
  // The stream ended before the run did (a proxy, a restarting server): ask once more.
  if (!last || !TERMINAL.has(last.run.status)) return client.call("getFleetProgress", request);
  return last;
}

export interface TrainOptions {
  project: string;
  wait: boolean;
  chunkSize?: number;
  /** Upload a dataset that lies outside the spec's folder (after symlinks). */
  allowOutsideSpecDir: boolean;
  /** Where the progress bar goes. */
  progress: TextSink;
  /**
   * Subscribes to the user's interrupt (Ctrl-C) while the run is followed, and only then: an interrupt stops
   * following, trainFleet throws {@link FleetDetached}, and the run goes on. Returns the unsubscribe.
   */
  onInterrupt?: (detach: () => void) => () => void;
}

/**
 * `skala fleet train SPEC`: validates the spec here (precise errors before any upload), checks that its
 * dataset lies in the spec's folder, uploads it, submits the fleet and follows it to the end. Submitting the
 * same spec over the same data again resumes or reports the earlier run instead of training twice.
 */
export async function trainFleet(
  client: SkalaClient,
  specPath: string,
  options: TrainOptions,
  print: (line: string) => void,
): Promise<{ run: FleetRun; progress?: FleetProgress; report?: FleetReport }> {
  const absolute = resolve(specPath);
  const text = await readTextFile(specPath, { maxBytes: SPEC_FILE_MAX_BYTES, what: "a fleet spec" });
  const format = absolute.endsWith(".json") ? "json" : "yaml";
  const spec = parseFleetSpec(text, { baseDir: dirname(absolute), format, fileName: specPath });
  const dataset = await confinedDatasetPath(spec.dataset.path, absolute, {
    allowOutside: options.allowOutsideSpecDir,
  });
  const project = options.project === "default" ? spec.project : options.project;
  print(`uploading ${dataset}…`);
  const { digest } = await client.upload(dataset);
  const submitted = await client.call("submitFleet", {
    params: { project },
    body: {
      spec: text,
      format,
      datasetDigest: digest,
      ...(options.chunkSize && { chunkSize: options.chunkSize }),
    },
  });
  const { run } = submitted;
  print(
    submitted.created
      ? `fleet ${spec.name}: run ${run.id} submitted, ${run.total} segments`
      : `fleet ${spec.name}: same spec and data as run ${run.id} (${run.status}); following it`,
  );
  if (!options.wait) return { run };
  const ofRun = { params: { project, fleet: spec.name }, query: { run: run.id } };
  let progress: FleetProgress;
  if (TERMINAL.has(run.status)) {
    progress = await client.call("getFleetProgress", ofRun);
  } else {
    const detach = new AbortController();
    const unsubscribe = options.onInterrupt?.(() => detach.abort());
    try {
      progress = await followFleet(
        client,
        { project, fleet: spec.name, runId: run.id },
        { progress: options.progress, detach: detach.signal },
      );
    } catch (error) {
      if (detach.signal.aborted) throw new FleetDetached(project, spec.name, run);
      throw error;
    } finally {
      unsubscribe?.();
    }
  }
  const report = await client.call("getFleetReport", ofRun);
  return { run: progress.run, progress, report };
}
