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

/** The characters that matter; the regex engine skips everything else natively, ten times faster than a loop. */
const STRUCTURAL = /["[\]{}]/g;

/**
 * Whether JSON text nests arrays and objects deeper than `maxDepth`, decided by one pass over the text before
 * it is parsed: only quotes and brackets are visited, strings are skipped with `indexOf` (base64 artifacts
 * cost almost nothing), so the check is linear, allocates nothing and stops at the first level too deep. It
 * runs at a fraction of JSON.parse's time. Malformed text is not judged here: the parser that runs next
 * reports it.
 *
 * @example
 * exceedsJsonDepth('{"a":[[1]]}', 2); // true: three levels
 */
export function exceedsJsonDepth(text: string, maxDepth: number): boolean {
  const structural = new RegExp(STRUCTURAL);
  let depth = 0;
  for (let match = structural.exec(text); match !== null; match = structural.exec(text)) {
    const c = text.charCodeAt(match.index);
    if (c === QUOTE) {
      // The closing quote is the next one not escaped by an odd run of backslashes.
      let end = match.index;
      for (;;) {
        end = text.indexOf('"', end + 1);
        if (end === -1) return false;
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === BACKSLASH) slashes++;
        if (slashes % 2 === 0) break;
      }
      structural.lastIndex = end + 1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else {
      depth--;
    }
  }
  return false;
}
