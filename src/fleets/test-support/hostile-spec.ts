/**
 * Fleet specs built to cost a parser as much as possible per character: what an attacker would post to
 * `POST …/fleets`. The regression test (hostile-spec.test.ts) and `npm run bench:hostile` use the same ones.
 * Each is about `chars` characters long and valid YAML or JSON (so it reaches past the syntax check), except
 * the unclosed brackets, which a syntax check refuses only at the end of the text.
 */
export interface HostileSpec {
  /** e.g. `yaml-many-keys`. */
  readonly name: string;
  readonly format: "yaml" | "json";
  readonly text: string;
}

/** The kinds, each a function of the size in characters. */
const KINDS: Record<string, { format: "yaml" | "json"; build: (chars: number) => string }> = {
  // One mapping with as many distinct keys as fit: the yaml package's uniqueKeys check is quadratic in them.
  "yaml-many-keys": { format: "yaml", build: (chars) => repeatTo(chars, "name: f\n", (i) => `k${i}: 1\n`) },
  // The same key over and over.
  "yaml-duplicate-keys": { format: "yaml", build: (chars) => repeatTo(chars, "name: f\n", () => "a: 1\n") },
  // Flow collections nested as deep as fit: recursion in the composer.
  "yaml-deep-flow": { format: "yaml", build: (chars) => nested(chars, "a: ", "[", "]", "") },
  // The spec itself a flow sequence of flow sequences (`[[[…]]]`), no key before it.
  "yaml-brackets-root": { format: "yaml", build: (chars) => nested(chars, "", "[", "]", "") },
  // Brackets opened and never closed: the parser's stack grows with each one until the text ends.
  "yaml-brackets-unclosed": { format: "yaml", build: (chars) => "[".repeat(chars) },
  // Block sequences nested on one line (`- - - x`).
  "yaml-deep-block": { format: "yaml", build: (chars) => `${"- ".repeat(Math.floor((chars - 1) / 2))}x` },
  // Billion laughs: ten aliases to ten aliases to ten… expand to 10^depth nodes from a few hundred characters.
  "yaml-alias-bomb": { format: "yaml", build: (chars) => padTo(chars, aliasBomb(12)) },
  // As many aliases as fit, to one small anchor: the yaml package resolves each by scanning the document.
  "yaml-many-aliases": {
    format: "yaml",
    build: (chars) => `${repeatTo(chars - 2, "name: f\nx: &x [1]\ny: [*x", () => ", *x")}]`,
  },
  "json-many-keys": {
    format: "json",
    build: (chars) => `${repeatTo(chars - 1, '{"name": "f"', (i) => `, "k${i}": 1`)}}`,
  },
  "json-duplicate-keys": {
    format: "json",
    build: (chars) => `${repeatTo(chars - 1, '{"name": "f"', () => ', "a": 1')}}`,
  },
  "json-deep": { format: "json", build: (chars) => nested(chars, '{"a": ', "[", "]", "}") },
};

export const HOSTILE_SPEC_KINDS: readonly string[] = Object.keys(KINDS);

/**
 * Every kind of hostile spec at about `chars` characters (default: just under a megabyte, which the spec
 * parser of the base commit accepted).
 *
 * @example
 * for (const spec of hostileSpecs(64 * 1024)) expect(() => parseFleetSpec(spec.text, { baseDir: "/" })).toThrow();
 */
export function hostileSpecs(chars = 1_000_000): HostileSpec[] {
  return Object.entries(KINDS).map(([name, kind]) => ({
    name,
    format: kind.format,
    text: kind.build(chars),
  }));
}

function repeatTo(chars: number, head: string, part: (i: number) => string): string {
  const parts = [head];
  let length = head.length;
  for (let i = 0; ; i++) {
    const next = part(i);
    if (length + next.length > chars) break;
    parts.push(next);
    length += next.length;
  }
  return parts.join("");
}

function nested(chars: number, head: string, open: string, close: string, tail: string): string {
  const depth = Math.floor((chars - head.length - tail.length) / (open.length + close.length));
  return `${head}${open.repeat(depth)}${close.repeat(depth)}${tail}`;
}

function aliasBomb(levels: number): string {
  const lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  for (let i = 1; i < levels; i++) {
    lines.push(`l${i}: &l${i} [${Array.from({ length: 10 }, () => `*l${i - 1}`).join(", ")}]`);
  }
  return `name: f\n${lines.join("\n")}\n`;
}

/** A trailing comment up to the size, so every kind weighs about the same. */
function padTo(chars: number, text: string): string {
  return text.length + 3 > chars ? text : `${text}# ${"x".repeat(chars - text.length - 3)}\n`;
}
