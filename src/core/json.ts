/**
 * The deepest nesting of arrays and objects a JSON request body may have. Real bodies stay far below it (an
 * inference request is a handful of levels plus the rank of its nested tensor data, at most 16); without a
 * bound, a body of a few kilobytes of `[[[[…` parses fine and then overflows the stack of every recursive
 * consumer (JSON.stringify when it is stored, schema validation, the serializer), which answers 500.
 */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * Whether JSON text nests arrays and objects deeper than `maxDepth`, decided by one pass over the text before
 * it is parsed: strings are skipped with `indexOf` (base64 artifacts cost almost nothing), so the check is
 * linear, allocates nothing and stops at the first level too deep. Malformed text is not judged here: the
 * parser that runs next reports it.
 *
 * @example
 * exceedsJsonDepth('{"a":[[1]]}', 2); // true: three levels
 */
export function exceedsJsonDepth(text: string, maxDepth: number): boolean {
  let depth = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // The closing quote is the next one not escaped by an odd run of backslashes.
      let end = i;
      for (;;) {
        end = text.indexOf('"', end + 1);
        if (end === -1) return false;
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === BACKSLASH) slashes++;
        if (slashes % 2 === 0) break;
      }
      i = end;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}
