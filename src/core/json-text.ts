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
    const { message, position } = jsonSyntaxError(error);
    if (position !== undefined) {
      const before = text.slice(0, position);
      const line = before.split("\n").length;
      const column = before.length - before.lastIndexOf("\n");
      return err(`${message} at line ${line}, column ${column}`);
    }
    return err(message);
  }
}

/**
 * What JSON.parse's SyntaxError says, without the text it quotes: the offset where parsing failed, when V8
 * gives one, and a message that holds none of the input.
 */
export function jsonSyntaxError(error: unknown): { message: string; position?: number } {
  const text = error instanceof Error ? error.message : "";
  const position = /at position (\d+)/.exec(text)?.[1];
  if (position !== undefined) return { message: "not valid JSON", position: Number(position) };
  if (/end of JSON input/.test(text))
    return { message: "not valid JSON: the text ends before the value does" };
  return { message: "not valid JSON" };
}
