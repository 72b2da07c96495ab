import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import cliProgress from "cli-progress";
import type { FleetProgress, FleetReport, FleetRun } from "../fleets/index.js";
import { parseFleetSpec } from "../fleets/index.js";
import type { SkalaClient } from "./client.js";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

/** Reads server-sent events from a streaming response and yields each event's parsed data. */
async function* serverSentEvents<T>(response: Response): AsyncGenerator<{ event: string; data: T }> {
  if (!response.body) return;
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
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

/** Follows a run's progress with a progress bar (a line every few seconds when not on a terminal). */
export async function followFleet(
  client: SkalaClient,
  project: string,
  fleet: string,
  runId: string,
): Promise<FleetProgress> {
  const bar = new cliProgress.SingleBar(
    {
      format: `${fleet} {bar} {percentage}% | {value}/{total} segments | {rate}/s | {failed} failed | ETA {eta_formatted}`,
      noTTYOutput: true,
      notTTYSchedule: 3_000,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let last: FleetProgress | undefined;
  const url = new URL(
    `/api/v1/projects/${encodeURIComponent(project)}/fleets/${encodeURIComponent(fleet)}/events?run=${encodeURIComponent(runId)}`,
    client.server,
  );
  const response = await fetch(url, { headers: { accept: "text/event-stream" } });
  if (!response.ok)
    return client.request<FleetProgress>("GET", url.pathname.replace(/\/events$/, "") + url.search);
  for await (const { data } of serverSentEvents<FleetProgress>(response)) {
    if (!last) bar.start(data.run.total, 0, { rate: "0", failed: 0 });
    bar.setTotal(data.run.total);
    bar.update(data.done, { rate: data.rate.toFixed(1), failed: data.failed });
    last = data;
    if (TERMINAL.has(data.run.status)) break;
  }
  bar.stop();
  if (!last) throw new Error("the server closed the progress stream without an event");
  return last;
}

export interface TrainOptions {
  project: string;
  wait: boolean;
  chunkSize?: number;
}

/**
 * `skala fleet train SPEC`: validates the spec here (precise errors before any upload), uploads the dataset,
 * submits the fleet and follows it to the end. Submitting the same spec over the same data again resumes or
 * reports the earlier run instead of training twice.
 */
export async function trainFleet(
  client: SkalaClient,
  specPath: string,
  options: TrainOptions,
  print: (line: string) => void,
): Promise<{ run: FleetRun; progress?: FleetProgress; report?: FleetReport }> {
  const absolute = resolve(specPath);
  const text = await readFile(absolute, "utf8");
  const format = absolute.endsWith(".json") ? "json" : "yaml";
  const spec = parseFleetSpec(text, { baseDir: dirname(absolute), format, fileName: specPath });
  const project = options.project === "default" ? spec.project : options.project;
  print(`uploading ${spec.dataset.path}…`);
  const { digest } = await client.upload(spec.dataset.path);
  const submitted = await client.request<{ run: FleetRun; created: boolean }>(
    "POST",
    `/api/v1/projects/${encodeURIComponent(project)}/fleets`,
    { spec: text, format, datasetDigest: digest, ...(options.chunkSize && { chunkSize: options.chunkSize }) },
  );
  const { run } = submitted;
  print(
    submitted.created
      ? `fleet ${spec.name}: run ${run.id} submitted, ${run.total} segments`
      : `fleet ${spec.name}: same spec and data as run ${run.id} (${run.status}); following it`,
  );
  if (!options.wait) return { run };
  const progress = TERMINAL.has(run.status)
    ? await client.request<FleetProgress>(
        "GET",
        `/api/v1/projects/${encodeURIComponent(project)}/fleets/${encodeURIComponent(spec.name)}?run=${run.id}`,
      )
    : await followFleet(client, project, spec.name, run.id);
  const report = await client.request<FleetReport>(
    "GET",
    `/api/v1/projects/${encodeURIComponent(project)}/fleets/${encodeURIComponent(spec.name)}/report?run=${run.id}`,
  );
  return { run: progress.run, progress, report };
}
