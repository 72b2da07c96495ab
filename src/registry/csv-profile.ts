import { parse } from "csv-parse";
import { csvErrorMessage, SkalaError } from "../core/index.js";
import type { ColumnSchema } from "./registry.types.js";

type CellType = Exclude<ColumnSchema["type"], "empty">;

const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(Infinity|NaN)$/;
const BOOLEAN = /^(true|false|TRUE|FALSE|True|False)$/;
const DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

function cellType(value: string): CellType {
  if (INTEGER.test(value)) return "integer";
  if (NUMBER.test(value)) return "number";
  if (BOOLEAN.test(value)) return "boolean";
  if (DATE.test(value) && !Number.isNaN(Date.parse(value))) return "date";
  return "string";
}

/** The narrowest type that holds both: integer ⊂ number; anything else mixed is a string. */
function widen(current: ColumnSchema["type"], next: CellType): ColumnSchema["type"] {
  if (current === "empty" || current === next) return next;
  if ((current === "integer" && next === "number") || (current === "number" && next === "integer"))
    return "number";
  return "string";
}

export interface CsvProfile {
  rows: number;
  schema: ColumnSchema[];
}

/**
 * Reads a CSV with a header row and infers each column's type and nullability. Malformed input
 * (ragged rows, bad quoting, duplicate or empty header names) fails with DATASET_INVALID and the line.
 */
export async function profileCsv(
  source: AsyncIterable<Uint8Array>,
  options: { maxColumns?: number } = {},
): Promise<CsvProfile> {
  const maxColumns = options.maxColumns ?? 2_000;
  const parser = parse({
    bom: true,
    relax_column_count: false,
    skip_empty_lines: true,
    max_record_size: 16 * 1024 * 1024,
  });
  const feeding = (async () => {
    try {
      for await (const chunk of source) {
        // A parser that failed (bad quoting) is destroyed: it neither drains nor wants more.
        if (parser.destroyed) return;
        if (!parser.write(chunk)) {
          await new Promise((resolve) => {
            parser.once("drain", resolve);
            parser.once("close", resolve);
          });
        }
      }
      parser.end();
    } catch (error) {
      parser.destroy(error as Error);
    }
  })();
  let header: string[] | undefined;
  const columns: ColumnSchema[] = [];
  let rows = 0;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      if (!header) {
        header = record.map((name) => name.trim());
        if (header.length > maxColumns) {
          throw new SkalaError(
            "DATASET_INVALID",
            `line 1: ${header.length} columns, at most ${maxColumns} allowed`,
            { line: 1 },
          );
        }
        /** Each name's column (1-based). */
        const seen = new Map<string, number>();
        header.forEach((name, index) => {
          if (!name)
            throw new SkalaError("DATASET_INVALID", `line 1, column ${index + 1}: empty column name`, {
              line: 1,
              column: index + 1,
            });
          const earlier = seen.get(name);
          if (earlier !== undefined) {
            // The header is the file's content, which a message never quotes; the columns say which.
            throw new SkalaError(
              "DATASET_INVALID",
              `line 1, column ${index + 1}: the same column name as column ${earlier}`,
              { line: 1, column: index + 1 },
            );
          }
          seen.set(name, index + 1);
          columns.push({ name, type: "empty", nullable: false });
        });
        continue;
      }
      rows++;
      record.forEach((value, index) => {
        const column = columns[index] as ColumnSchema;
        if (value === "" || value === "NA") column.nullable = true;
        else column.type = widen(column.type, cellType(value));
      });
    }
  } catch (error) {
    if (error instanceof SkalaError) throw error;
    const info = error as { code?: string; lines?: number };
    throw new SkalaError("DATASET_INVALID", `line ${info.lines ?? "?"}: ${csvErrorMessage(error)}`, {
      line: info.lines,
      reason: info.code,
    });
  } finally {
    await feeding;
  }
  if (!header)
    throw new SkalaError("DATASET_INVALID", "the file is empty: a header row is required", { line: 1 });
  return { rows, schema: columns };
}
