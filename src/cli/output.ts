import Table from "cli-table3";

/** Where the CLI writes: process.stdout / process.stderr, or a captured stream in tests. */
export type TextSink = NodeJS.WritableStream & { isTTY?: boolean };

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Tables for people, JSON for scripts (`--json`), always on the sink it was made for. */
export class Output {
  constructor(private readonly sink: TextSink) {}

  line(text: string): void {
    this.sink.write(`${text}\n`);
  }

  json(value: unknown): void {
    this.line(JSON.stringify(value, null, 2));
  }

  /** Rows as a table, or as JSON (`raw` when given: the whole page, cursor included). */
  rows<T>(rows: readonly T[], columns: Column<T>[], options: { json: boolean; raw?: unknown }): void {
    if (options.json) {
      this.json(options.raw ?? rows);
      return;
    }
    const table = new Table({ head: columns.map((c) => c.header), style: { head: [], border: [] } });
    for (const row of rows) table.push(columns.map((c) => cell(c.value(row))));
    this.line(table.toString());
  }

  /** One object as key/value lines, or JSON. */
  object(value: object, options: { json: boolean }): void {
    if (options.json) {
      this.json(value);
      return;
    }
    const table = new Table({ style: { head: [], border: [] } });
    for (const [key, inner] of Object.entries(value)) table.push({ [key]: cell(inner) });
    this.line(table.toString());
  }
}

/** `key=value` pairs of a record, space-separated, for a table cell. */
export function pairs(record: Record<string, unknown>): string {
  return Object.entries(record)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
}
