import { type FleetSpec, toLoadOptions } from "./fleet-spec.js";
import type { LoadSeriesOptions } from "./series-loader.js";

/**
 * What a fleet run needs from its spec besides the segment plan, stored with the run so that workers (in this
 * process or after a restart) interpret the dataset and the outputs exactly as submitted.
 */
export interface FleetRunSettings {
  fleet: string;
  description: string;
  loader: Pick<LoadSeriesOptions, "columns" | "frequency" | "na" | "minLength" | "invalidValues">;
  output: { register: boolean; champion: boolean; atomic: boolean };
  /** Segments per job: the unit of retry and of progress. */
  chunkSize: number;
}

/** Model names allow letters, digits, '.', '_' and '-': other characters of a series id become '_'. */
export function modelNameFor(fleet: string, seriesId: string): string {
  return `${fleet}.${seriesId.replace(/[^A-Za-z0-9._-]/g, "_")}`.slice(0, 200);
}

/** Settings of a run from a validated spec. */
export function settingsFromSpec(spec: FleetSpec, chunkSize = DEFAULT_CHUNK_SIZE): FleetRunSettings {
  const load = toLoadOptions(spec);
  return {
    fleet: spec.name,
    description: spec.description ?? "",
    loader: {
      columns: load.columns,
      frequency: load.frequency,
      na: load.na,
      invalidValues: load.invalidValues,
      minLength: load.minLength,
    },
    output: { ...spec.output },
    chunkSize,
  };
}

/** 50 segments a job: small enough for smooth progress and cheap retries, large enough to batch registration. */
export const DEFAULT_CHUNK_SIZE = 50;
