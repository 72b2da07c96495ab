import { err, ok, type Result } from "./result.js";

/**
 * Parses JSON text; on failure, says where without quoting the text. V8's own messages quote the input
 * (`Unexpected token 'r', "root:x:0:0"… is not valid JSON`), and a message must never echo a file's content.
 *
 * @example
 * const parsed = parseJsonText(text);
 * if (!parsed.ok) throw new SkalaError("VALIDATION_FAILED", `${file}: ${parsed.error}`);
 */
export function parseJsonText(text: string): Result<unknown, string> {
  try {
    return ok(JSON.parse(text) as unknown);
  } catch (error) {
    const message = error instanceof Error ? error.message : "";
    const position = /at position (\d+)/.exec(message)?.[1];
    if (position !== undefined) {
      const before = text.slice(0, Number(position));
      const line = before.split("\n").length;
      const column = before.length - before.lastIndexOf("\n");
      return err(`not valid JSON at line ${line}, column ${column}`);
    }
    if (/end of JSON input/.test(message)) return err("not valid JSON: the text ends before the value does");
    return err("not valid JSON");
  }
}
