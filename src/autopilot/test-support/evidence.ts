import type { EvidencePort, FiredCheck } from "../ports.js";

interface ModelEvidence {
  checks: FiredCheck[];
  actuals: Array<{ at: string }>;
  /** Errors per version, one per period, aligned across versions (same periods, same order). */
  errors: Map<number, number[]>;
  windowEnd: string;
}

/** Monitoring's evidence held in memory, set by the test; the real one reads the monitoring store. */
export class MemoryEvidence implements EvidencePort {
  private readonly models = new Map<string, ModelEvidence>();

  private of(project: string, model: string): ModelEvidence {
    const key = `${project}/${model}`;
    let entry = this.models.get(key);
    if (!entry) {
      entry = { checks: [], actuals: [], errors: new Map(), windowEnd: "1970-01-01T00:00:00.000Z" };
      this.models.set(key, entry);
    }
    return entry;
  }

  setChecks(project: string, model: string, checks: FiredCheck[]): this {
    this.of(project, model).checks = checks;
    return this;
  }

  addActuals(project: string, model: string, times: string[]): this {
    this.of(project, model).actuals.push(...times.map((at) => ({ at })));
    return this;
  }

  setErrors(project: string, model: string, version: number, errors: number[], windowEnd: string): this {
    const entry = this.of(project, model);
    entry.errors.set(version, errors);
    entry.windowEnd = windowEnd;
    return this;
  }

  async firedChecks(project: string, model: string): Promise<FiredCheck[]> {
    return this.of(project, model).checks;
  }

  async newActuals(project: string, model: string, since: string | null) {
    const fresh = this.of(project, model).actuals.filter((a) => since === null || a.at > since);
    return { count: fresh.length, mark: fresh.reduce((m, a) => (a.at > m ? a.at : m), "") };
  }

  async recentErrors(
    project: string,
    model: string,
    versions: { champion: number; challenger: number | null },
  ) {
    const entry = this.of(project, model);
    const champion = entry.errors.get(versions.champion);
    if (!champion) return null;
    const challenger = versions.challenger === null ? [] : (entry.errors.get(versions.challenger) ?? []);
    return { champion, challenger, windowEnd: entry.windowEnd };
  }
}
