import Table from "cli-table3";

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Prints rows as a table for people or as JSON for scripts. */
export function printRows<T>(
  rows: T[],
  columns: Column<T>[],
  options: { json: boolean; raw?: unknown },
): void {
  if (options.json) {
    process.stdout.write(`${JSON.stringify(options.raw ?? rows, null, 2)}\n`);
    return;
  }
  const table = new Table({ head: columns.map((c) => c.header), style: { head: [], border: [] } });
  for (const row of rows) table.push(columns.map((c) => cell(c.value(row))));
  process.stdout.write(`${table.toString()}\n`);
}

/** Prints one object as key/value lines, or JSON. */
export function printObject(value: Record<string, unknown>, options: { json: boolean }): void {
  if (options.json) {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  const table = new Table({ style: { head: [], border: [] } });
  for (const [key, inner] of Object.entries(value)) table.push({ [key]: cell(inner) });
  process.stdout.write(`${table.toString()}\n`);
}
