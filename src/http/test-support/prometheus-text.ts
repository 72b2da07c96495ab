/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for tests. Every line must be a HELP, a
 * TYPE, another comment, a blank, or a well-formed sample; a family's TYPE comes before its samples, its
 * samples are contiguous, no series appears twice, counters are finite and non-negative, and each histogram
 * series has cumulative buckets ending in `+Inf` equal to its `_count`. It throws on the first violation,
 * naming the line.
 *
 * Tests also parse with parse-prometheus-text-format, a maintained parser, for families and counters; that
 * one cannot read labelled histograms (it merges the buckets of every series into one and drops their
 * `_sum` and `_count`), which is what this reader is for.
 */

export type FamilyType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  /** The sample's own name: `x_bucket`, `x_sum`, `x_count` for a histogram `x`. */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: FamilyType;
  help: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: readonly FamilyType[] = ["counter", "gauge", "histogram", "summary", "untyped"];

/** The identity of a series: its sample name and labels, in a stable order. */
export function seriesKey(sample: Pick<Sample, "name" | "labels">): string {
  const labels = Object.entries(sample.labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`);
  return `${sample.name}{${labels.join(",")}}`;
}

/** A float as Prometheus reads one (Go's ParseFloat: NaN and Inf in any case; prom-client writes "Nan"). */
function parseValue(text: string, where: string): number {
  switch (text.toLowerCase()) {
    case "+inf":
    case "inf":
      return Number.POSITIVE_INFINITY;
    case "-inf":
      return Number.NEGATIVE_INFINITY;
    case "nan":
      return Number.NaN;
    default:
      if (!/^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(text))
        throw new Error(`${where}: bad value "${text}"`);
      return Number(text);
  }
}

/** `name{a="x",b="y"} value [timestamp]`, with the format's escapes in label values. */
function parseSample(line: string, where: string): Sample {
  let at = 0;
  while (at < line.length && line[at] !== "{" && line[at] !== " ") at++;
  const name = line.slice(0, at);
  if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name "${name}"`);
  const labels: Record<string, string> = {};
  if (line[at] === "{") {
    at++;
    while (line[at] !== "}") {
      const eq = line.indexOf("=", at);
      if (eq === -1) throw new Error(`${where}: unterminated labels`);
      const label = line.slice(at, eq);
      if (!LABEL_NAME.test(label)) throw new Error(`${where}: bad label name "${label}"`);
      if (label in labels) throw new Error(`${where}: label "${label}" given twice`);
      if (line[eq + 1] !== '"') throw new Error(`${where}: label "${label}" is not quoted`);
      let value = "";
      let i = eq + 2;
      for (; i < line.length && line[i] !== '"'; i++) {
        if (line[i] !== "\\") {
          value += line[i];
          continue;
        }
        const escaped = line[++i];
        if (escaped === "\\") value += "\\";
        else if (escaped === '"') value += '"';
        else if (escaped === "n") value += "\n";
        else throw new Error(`${where}: bad escape "\\${escaped}" in label "${label}"`);
      }
      if (i >= line.length) throw new Error(`${where}: unterminated value of label "${label}"`);
      labels[label] = value;
      at = i + 1;
      if (line[at] === ",") at++;
      else if (line[at] !== "}") throw new Error(`${where}: expected "," or "}" after label "${label}"`);
    }
    at++;
  }
  if (line[at] !== " ") throw new Error(`${where}: expected a space before the value`);
  const [value, timestamp, ...rest] = line
    .slice(at + 1)
    .split(" ")
    .filter((part) => part !== "");
  if (value === undefined || rest.length > 0) throw new Error(`${where}: expected "value [timestamp]"`);
  if (timestamp !== undefined && !/^-?\d+$/.test(timestamp)) throw new Error(`${where}: bad timestamp`);
  return { name, labels, value: parseValue(value, where) };
}

/** The family a sample belongs to, given the families whose TYPE has been read. */
function familyOf(sample: Sample, families: ReadonlyMap<string, Family>): Family | undefined {
  const own = families.get(sample.name);
  if (own !== undefined) return own;
  const suffix = /_(bucket|sum|count)$/.exec(sample.name);
  if (suffix === null) return undefined;
  const base = families.get(sample.name.slice(0, -suffix[0].length));
  if (base === undefined) return undefined;
  if (base.type === "histogram") return base;
  return base.type === "summary" && suffix[1] !== "bucket" ? base : undefined;
}

function checkHistogram(family: Family): void {
  const series = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = seriesKey({ name: family.name, labels: rest });
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (sample.name === `${family.name}_bucket`) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      entry.buckets.push([parseValue(le, `${family.name} le`), sample.value]);
    } else if (sample.name === `${family.name}_count`) entry.count = sample.value;
    else if (sample.name === `${family.name}_sum`) entry.sum = sample.value;
    else throw new Error(`${family.name}: unexpected sample ${sample.name}`);
  }
  for (const [key, entry] of series) {
    const sorted = [...entry.buckets].sort(([a], [b]) => a - b);
    sorted.forEach(([, count], i) => {
      if (i > 0 && count < (sorted[i - 1]?.[1] ?? 0)) throw new Error(`${key}: buckets are not cumulative`);
    });
    const last = sorted.at(-1);
    if (last === undefined || last[0] !== Number.POSITIVE_INFINITY) throw new Error(`${key}: no +Inf bucket`);
    if (entry.count !== last[1])
      throw new Error(`${key}: _count ${entry.count} is not the +Inf bucket ${last[1]}`);
    if (entry.sum === undefined) throw new Error(`${key}: no _sum`);
  }
}

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: Family | undefined;
  const finished = new Set<string>();
  const lines = text.split("\n");
  if (lines.at(-1) !== "") throw new Error("the exposition does not end with a newline");
  lines.forEach((line, index) => {
    const where = `line ${index + 1}`;
    if (line === "") return;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta !== null) {
      const [, kind, name = "", rest = ""] = meta;
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name "${name}"`);
      if (finished.has(name)) throw new Error(`${where}: family ${name} appears again after other families`);
      let family = families.get(name);
      if (family === undefined) {
        family = { name, type: "untyped", help: "", samples: [] };
        families.set(name, family);
      } else if (family.samples.length > 0) {
        throw new Error(`${where}: ${kind} of ${name} after its samples`);
      }
      if (current !== undefined && current !== family) finished.add(current.name);
      current = family;
      if (kind === "TYPE") {
        if (!(TYPES as readonly string[]).includes(rest)) throw new Error(`${where}: unknown type "${rest}"`);
        family.type = rest as FamilyType;
      } else {
        family.help = rest;
      }
      return;
    }
    if (line.startsWith("#")) return;
    const sample = parseSample(line, where);
    const family = familyOf(sample, families);
    if (family === undefined) throw new Error(`${where}: ${sample.name} has no TYPE before it`);
    if (family !== current)
      throw new Error(`${where}: ${sample.name} is not next to the rest of ${family.name}`);
    const key = seriesKey(sample);
    if (seen.has(key)) throw new Error(`${where}: series ${key} appears twice`);
    seen.add(key);
    if (family.type === "counter" && !(Number.isFinite(sample.value) && sample.value >= 0)) {
      throw new Error(`${where}: counter ${key} is ${sample.value}`);
    }
    family.samples.push(sample);
  });
  for (const family of families.values()) if (family.type === "histogram") checkHistogram(family);
  return families;
}

/**
 * Every cumulative series, by key, with its value: counters, histogram buckets, sums and counts, summary sums
 * and counts. Prometheus requires these never to decrease while the process lives (a decrease reads as a
 * counter reset).
 */
export function cumulativeSeries(families: ReadonlyMap<string, Family>): Map<string, number> {
  const out = new Map<string, number>();
  for (const family of families.values()) {
    for (const sample of family.samples) {
      const cumulative =
        family.type === "counter" ||
        family.type === "histogram" ||
        (family.type === "summary" && sample.name !== family.name);
      if (cumulative) out.set(seriesKey(sample), sample.value);
    }
  }
  return out;
}
