import {
  Composer,
  CST,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  Lexer,
  Parser,
  type Node as YamlNode,
} from "yaml";
import { jsonSyntaxError, type ValidationIssue } from "../core/index.js";

/**
 * Reads spec text (YAML or JSON) into a plain value that remembers where each part was written, and refuses
 * what no fleet spec needs before it costs anything: every step is linear in the text and stops at the first
 * limit, so a hostile spec is refused in milliseconds and the server keeps answering.
 */

/** A validation issue with the place in the spec text, when it is known. */
export interface SpecIssue extends ValidationIssue {
  readonly line?: number;
  readonly column?: number;
}

/**
 * Limits on a fleet spec. An extreme one (50 candidates with every ETS parameter, 99 quantiles, comments) has
 * about 14,000 characters, 6,000 YAML tokens, 2,500 values and 5 levels; the carparts example has 1,400
 * characters and 440 tokens. The limits bound the work a spec can cause to a few tens of milliseconds.
 */
export const SPEC_LIMITS = Object.freeze({
  /** Characters of spec text. */
  maxChars: 128 * 1024,
  /** YAML tokens (scalars, indicators, spaces, comments, line breaks), counted before anything is parsed. */
  maxYamlTokens: 10_000,
  /** Keys and values in all, list items included, after YAML aliases are expanded. */
  maxNodes: 10_000,
  /** Levels of nested mappings and lists. */
  maxDepth: 32,
  /** Keys in one mapping. */
  maxKeys: 100,
  /** Characters in one string, key or value. */
  maxStringChars: 16 * 1024,
  /** YAML aliases (`*name`) resolved, each time an expansion meets one. */
  maxAliases: 100,
  /** Problems listed in one error; past that many, the rest are not looked for. */
  maxIssues: 100,
});

export type SpecFormat = "yaml" | "json";

/** A spec read from text: its value, and where each part of it was written. */
export interface SpecDocument {
  readonly value: unknown;
  /** Line and column of the value at a JSON pointer, or of its closest ancestor that was written. */
  locate(path: string): { line?: number; column?: number };
}

export type ReadResult =
  | { readonly ok: true; readonly document: SpecDocument }
  | { readonly ok: false; readonly issues: SpecIssue[] };

/** Where one value starts in the text, and where its keys' or items' values start. */
interface Position {
  offset: number;
  children?: Map<string, Position>;
}

/** Text → value, with every limit checked; never throws for any input. */
export function readSpecText(text: string, format: SpecFormat): ReadResult {
  if (text.length > SPEC_LIMITS.maxChars) {
    return refuse([
      {
        path: "",
        message: `the spec must be text of at most ${SPEC_LIMITS.maxChars} characters, got ${text.length}`,
      },
    ]);
  }
  return format === "json" ? readJson(text) : readYaml(text);
}

/** A spec given as a value (a JSON body): the limits, with the path of the first one exceeded. */
export function specValueLimitIssue(value: unknown): SpecIssue | undefined {
  let nodes = 0;
  const visit = (v: unknown, path: string, depth: number): SpecIssue | undefined => {
    if (++nodes > SPEC_LIMITS.maxNodes) return { path, message: TOO_MANY_NODES };
    if (typeof v === "string") {
      return v.length > SPEC_LIMITS.maxStringChars
        ? { path, message: tooLong("string", v.length) }
        : undefined;
    }
    if (typeof v !== "object" || v === null) return undefined;
    if (depth >= SPEC_LIMITS.maxDepth) return { path, message: TOO_DEEP };
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const issue = visit(v[i], `${path}/${i}`, depth + 1);
        if (issue) return issue;
      }
      return undefined;
    }
    const keys = Object.keys(v);
    if (keys.length > SPEC_LIMITS.maxKeys) return { path, message: tooManyKeys(keys.length) };
    for (const key of keys) {
      const at = `${path}/${escapePointer(key)}`;
      if (++nodes > SPEC_LIMITS.maxNodes) return { path: at, message: TOO_MANY_NODES };
      if (key.length > SPEC_LIMITS.maxStringChars) return { path: at, message: tooLong("key", key.length) };
      const issue = visit((v as Record<string, unknown>)[key], at, depth + 1);
      if (issue) return issue;
    }
    return undefined;
  };
  return visit(value, "", 0);
}

export function escapePointer(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}

// ---------------------------------------------------------------------------------------------------------

const TOO_MANY_NODES = `more than ${SPEC_LIMITS.maxNodes} keys and values in all (YAML aliases expanded); a fleet spec has a few hundred`;
const TOO_DEEP = `nested more than ${SPEC_LIMITS.maxDepth} levels deep`;
const tooManyKeys = (n: number) => `has ${n} keys; at most ${SPEC_LIMITS.maxKeys} in one mapping`;
const tooLong = (what: "string" | "key", n: number) =>
  `a ${what} of ${n} characters; at most ${SPEC_LIMITS.maxStringChars}`;

function refuse(issues: SpecIssue[]): ReadResult {
  return { ok: false, issues };
}

/** Line and column (1-based, in UTF-16 units as editors count) of offsets into one text. */
class LineIndex {
  private starts: number[] | undefined;
  constructor(private readonly text: string) {}

  at(offset: number): { line: number; column: number } {
    if (!this.starts) {
      this.starts = [0];
      for (let i = this.text.indexOf("\n"); i >= 0; i = this.text.indexOf("\n", i + 1))
        this.starts.push(i + 1);
    }
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (this.starts[lo] as number) + 1 };
  }
}

function documentOf(value: unknown, root: Position, lines: LineIndex): SpecDocument {
  return {
    value,
    locate(path) {
      let position = root;
      for (const segment of path.split("/").slice(1)) {
        const child = position.children?.get(segment.replaceAll("~1", "/").replaceAll("~0", "~"));
        if (!child) break;
        position = child;
      }
      return lines.at(position.offset);
    },
  };
}

/** The limits on the value, the first one exceeded placed in the text. */
function withinLimits(document: SpecDocument): ReadResult {
  const issue = specValueLimitIssue(document.value);
  return issue ? refuse([{ ...issue, ...document.locate(issue.path) }]) : { ok: true, document };
}

// ---------------------------------------------------------------------------------------------------------
// JSON: JSON.parse decides what is JSON (native, linear); one linear scan of the text then finds duplicate
// keys, which JSON.parse silently resolves to the last one, and where each value starts.

function readJson(source: string): ReadResult {
  // A byte-order mark is not JSON whitespace; a space keeps every offset where it was.
  const text = source.startsWith("\uFEFF") ? ` ${source.slice(1)}` : source;
  const lines = new LineIndex(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // V8's message quotes the text; the position alone says where.
    const { message, position } = jsonSyntaxError(error);
    return refuse([{ path: "", message, ...(position !== undefined && lines.at(position)) }]);
  }
  // The limits first, on the value: the scan that places the issue stops where the limit was crossed.
  const limit = specValueLimitIssue(value);
  if (limit) return refuse([{ ...limit, ...lines.at(scanJson(text, lines, limit.path).stoppedAt) }]);
  const scanned = scanJson(text, lines);
  if (scanned.duplicates.length > 0) return refuse(scanned.duplicates);
  return { ok: true, document: documentOf(value, scanned.root, lines) };
}

interface JsonFrame {
  readonly position: Position;
  readonly isArray: boolean;
  /** This container's key or index in its parent, as a pointer segment. */
  readonly segment: string;
  index: number;
  readonly keys: Map<string, number>;
  /** Whether this container lies on the way to the value the scan stops at. */
  readonly onPath: boolean;
}

/** `,` `]` `}` or whitespace. */
function isJsonDelimiter(c: number): boolean {
  return c === 44 || c === 93 || c === 125 || c === 32 || c === 10 || c === 13 || c === 9;
}

/**
 * One pass over text that JSON.parse accepted: the position tree and every duplicate key, or, given a JSON
 * pointer, only as far as the value it names (whose offset is `stoppedAt`).
 */
function scanJson(
  text: string,
  lines: LineIndex,
  stopAt?: string,
): { root: Position; duplicates: SpecIssue[]; stoppedAt: number } {
  const target = stopAt?.split("/").slice(1);
  const duplicates: SpecIssue[] = [];
  const stack: JsonFrame[] = [];
  let i = 0;
  const skipSpace = () => {
    for (let c = text.charCodeAt(i); c === 32 || c === 10 || c === 13 || c === 9; c = text.charCodeAt(++i));
  };
  const readString = (): string => {
    const start = i++;
    let escaped = false;
    for (let c = text.charCodeAt(i); c !== 34; c = text.charCodeAt(i)) {
      if (c === 92) {
        escaped = true;
        i += 2;
      } else i++;
    }
    i++;
    return escaped ? (JSON.parse(text.slice(start, i)) as string) : text.slice(start + 1, i - 1);
  };
  /** Reads one value; returns true when it is the one to stop at. */
  const begin = (position: Position, segment: string, onPath: boolean): boolean => {
    if (target && onPath && stack.length === target.length) return true;
    const c = text.charCodeAt(i);
    if (c === 123 || c === 91) {
      position.children = new Map();
      stack.push({ position, isArray: c === 91, segment, index: 0, keys: new Map(), onPath });
      i++;
    } else if (c === 34) readString();
    else {
      // A number, true, false or null runs to the next delimiter.
      while (i < text.length && !isJsonDelimiter(text.charCodeAt(i))) i++;
    }
    return false;
  };
  skipSpace();
  const root: Position = { offset: i };
  if (begin(root, "", true)) return { root, duplicates, stoppedAt: root.offset };
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as JsonFrame;
    skipSpace();
    let c = text.charCodeAt(i);
    if (c === 125 || c === 93) {
      i++;
      stack.pop();
      continue;
    }
    if (c === 44) {
      i++;
      skipSpace();
      c = text.charCodeAt(i);
    }
    let segment: string;
    if (frame.isArray) segment = String(frame.index++);
    else {
      const keyOffset = i;
      const key = readString();
      skipSpace();
      i++; // the colon
      skipSpace();
      segment = key;
      const first = frame.keys.get(key);
      if (first === undefined) frame.keys.set(key, keyOffset);
      else {
        const at = lines.at(first);
        const parent = stack.map((f) => f.segment).join("/");
        duplicates.push({
          path: `${parent}/${escapePointer(key)}`,
          message: `duplicate key "${key}"; first at line ${at.line}, column ${at.column}`,
          ...lines.at(keyOffset),
        });
        // The spec is refused for these; where the rest of it is does not matter.
        if (duplicates.length > SPEC_LIMITS.maxIssues) return { root, duplicates, stoppedAt: i };
      }
    }
    const child: Position = { offset: i };
    // A duplicate's later value is the one JSON.parse kept, so it is the one to point at.
    frame.position.children?.set(segment, child);
    const pointerSegment = escapePointer(segment);
    const onPath = frame.onPath && pointerSegment === target?.[stack.length - 1];
    if (begin(child, pointerSegment, onPath)) return { root, duplicates, stoppedAt: child.offset };
  }
  return { root, duplicates, stoppedAt: root.offset };
}

// ---------------------------------------------------------------------------------------------------------
// YAML: the yaml package's lexer and parser, driven one token at a time so that reading stops at the token
// and depth limits; its composer without the quadratic `uniqueKeys`; then our own conversion to a plain value,
// which finds duplicate keys with one Set per mapping and expands aliases under the node and alias limits.

function readYaml(text: string): ReadResult {
  const lines = new LineIndex(text);
  // The lexer alone first: it costs a fifth of the parser per token, and a spec past the limit stops here.
  let count = 0;
  let offset = 0;
  for (const lexeme of new Lexer().lex(text)) {
    if (++count > SPEC_LIMITS.maxYamlTokens) {
      return refuse([
        {
          path: "",
          message: `more than ${SPEC_LIMITS.maxYamlTokens} YAML tokens (scalars, indicators, comments, line breaks); a fleet spec has a few thousand`,
          ...lines.at(offset),
        },
      ]);
    }
    // The lexer's markers for a document, a scalar and a flow error stand for no text.
    if (lexeme !== CST.DOCUMENT && lexeme !== CST.SCALAR && lexeme !== CST.FLOW_END) offset += lexeme.length;
  }
  const parser = new Parser();
  const tokens: CST.Token[] = [];
  for (const lexeme of new Lexer().lex(text)) {
    for (const token of parser.next(lexeme)) tokens.push(token);
    // The stack holds the document, each open collection and at most one scalar.
    if (parser.stack.length > SPEC_LIMITS.maxDepth + 2) {
      return refuse([{ path: "", message: TOO_DEEP, ...lines.at(parser.offset) }]);
    }
  }
  for (const token of parser.end()) tokens.push(token);
  // YAML 1.2 core schema: `no` stays a string and there are no custom tags.
  const documents = [...new Composer({ uniqueKeys: false }).compose(tokens, true, text.length)];
  const [doc, second] = documents;
  if (!doc) return refuse([{ path: "", message: "not valid YAML: no document" }]);
  const syntax: SpecIssue[] = doc.errors.map((e) => ({
    path: "",
    message: `not valid YAML: ${yamlMessage(e)}`,
    ...lines.at(e.pos[0]),
  }));
  if (second) {
    syntax.push({
      path: "",
      message: "not valid YAML: a spec is one document (remove the second `---`)",
      ...lines.at(second.range[0]),
    });
  }
  if (syntax.length > 0) return refuse(syntax);
  const converter = new YamlConverter(lines);
  try {
    const { value, position } = converter.convert(doc.contents, "");
    if (converter.issues.length > 0) return refuse(converter.issues);
    return withinLimits(documentOf(value, position, lines));
  } catch (error) {
    if (error instanceof LimitExceeded) return refuse([error.issue]);
    throw error;
  }
}

/**
 * The yaml package's message, except where it would quote the text: a tag, a directive, an escape sequence or
 * a block scalar's header, which in a file that is no spec at all can be anything.
 */
function yamlMessage(error: { code: string; message: string }): string {
  switch (error.code) {
    case "TAG_RESOLVE_FAILED":
      return "a tag (`!name`) this reader does not know; a spec needs none";
    case "BAD_DIRECTIVE":
      return "a directive (a line starting with %) that is not %YAML 1.1 or 1.2, or %TAG";
    case "BAD_DQ_ESCAPE":
      return "an invalid escape sequence in a double-quoted string";
    default:
      return error.message.startsWith("Block scalar header")
        ? "a block scalar header (after | or >) with extra characters"
        : error.message;
  }
}

class LimitExceeded extends Error {
  constructor(readonly issue: SpecIssue) {
    super(issue.message);
  }
}

class YamlConverter {
  readonly issues: SpecIssue[] = [];
  private nodes = 0;
  private aliases = 0;
  private readonly anchors = new Map<string, YamlNode>();
  /** Each alias's node, as resolved where the alias is written (document order), for later expansions. */
  private readonly aliasTargets = new Map<YamlNode, YamlNode | undefined>();
  /** Collections being converted: an alias to one of them would expand forever. */
  private readonly open = new Set<YamlNode>();
  /**
   * Where the alias being expanded is written, while it is. Its nodes were converted once already where
   * they are written: their anchors are not defined again nor their problems reported twice, and a limit
   * they cross is reported at the alias.
   */
  private expansion: number | undefined;

  constructor(private readonly lines: LineIndex) {}

  convert(node: unknown, path: string): { value: unknown; position: Position } {
    if (node === null || node === undefined) return { value: null, position: { offset: 0 } };
    const yamlNode = node as YamlNode;
    // A pair alone in a flow sequence (`[a: 1]`) has no range of its own: it starts at its key.
    const offset = (isPair(node) ? (node.key as YamlNode | null)?.range?.[0] : yamlNode.range?.[0]) ?? 0;
    if (++this.nodes > SPEC_LIMITS.maxNodes) this.limit(path, TOO_MANY_NODES, offset);
    const expanding = this.expansion !== undefined;
    if (!expanding && yamlNode.anchor) this.anchors.set(yamlNode.anchor, yamlNode);
    if (isAlias(node)) {
      if (++this.aliases > SPEC_LIMITS.maxAliases) {
        this.limit(path, `more than ${SPEC_LIMITS.maxAliases} aliases to expand`, offset);
      }
      const target = expanding ? this.aliasTargets.get(node) : this.anchors.get(node.source);
      if (!expanding) this.aliasTargets.set(node, target);
      if (!target)
        return this.problem(path, `unknown alias *${node.source} (its anchor must come first)`, offset);
      if (this.open.has(target)) {
        return this.problem(path, `alias *${node.source} is inside the node it refers to`, offset);
      }
      this.expansion ??= offset;
      const expanded = this.convert(target, path);
      if (!expanding) this.expansion = undefined;
      return { value: expanded.value, position: { ...expanded.position, offset } };
    }
    if (isScalar(node)) {
      const v = node.value;
      if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") {
        return { value: v, position: { offset } };
      }
      return this.problem(path, "not a plain string, number, boolean or null", offset);
    }
    if (isMap(node) || isPair(node)) {
      const value: Record<string, unknown> = {};
      const children = new Map<string, Position>();
      const firstAt = new Map<string, number>();
      this.open.add(yamlNode);
      for (const pair of isPair(node) ? [node] : node.items) {
        const keyNode = pair.key as YamlNode | null;
        const keyOffset = keyNode?.range?.[0] ?? offset;
        if (keyNode !== null && !isScalar(keyNode)) {
          this.problem(path, "a key must be a plain string, not a list, mapping or alias", keyOffset);
          continue;
        }
        const raw = keyNode?.value ?? null;
        const key = raw === null ? "" : String(raw);
        const at = `${path}/${escapePointer(key)}`;
        if (++this.nodes > SPEC_LIMITS.maxNodes) this.limit(at, TOO_MANY_NODES, keyOffset);
        const first = firstAt.get(key);
        if (first !== undefined) {
          const where = this.lines.at(first);
          this.problem(
            at,
            `duplicate key "${key}"; first at line ${where.line}, column ${where.column}`,
            keyOffset,
          );
          continue;
        }
        firstAt.set(key, keyOffset);
        const converted = this.convert(pair.value, at);
        // defineProperty: a `__proto__` key is data (an unknown field), never the object's prototype.
        Object.defineProperty(value, key, {
          value: converted.value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
        // `key:` with nothing after it: point at the key rather than at the empty value.
        const empty = isScalar(pair.value) && pair.value.source === "" && pair.value.value === null;
        children.set(key, { ...converted.position, offset: empty ? keyOffset : converted.position.offset });
      }
      this.open.delete(yamlNode);
      return { value, position: { offset, children } };
    }
    if (isSeq(node)) {
      const value: unknown[] = [];
      const children = new Map<string, Position>();
      this.open.add(yamlNode);
      node.items.forEach((item, i) => {
        const converted = this.convert(item, `${path}/${i}`);
        value.push(converted.value);
        children.set(String(i), converted.position);
      });
      this.open.delete(yamlNode);
      return { value, position: { offset, children } };
    }
    return this.problem(path, "not a YAML value a spec can hold", offset);
  }

  private problem(path: string, message: string, offset: number): { value: unknown; position: Position } {
    if (this.expansion === undefined && this.issues.length <= SPEC_LIMITS.maxIssues) {
      this.issues.push({ path, message, ...this.lines.at(offset) });
    }
    return { value: null, position: { offset } };
  }

  private limit(path: string, message: string, offset: number): never {
    throw new LimitExceeded({ path, message, ...this.lines.at(this.expansion ?? offset) });
  }
}
