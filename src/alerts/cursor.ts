import { SkalaError } from "../core/index.js";

/**
 * Keyset pagination cursors, as the registry's: the last row's sort key and id plus a fingerprint of the query,
 * so a cursor from one listing is refused by another instead of silently skipping rows.
 */
export interface CursorPosition {
  key: number;
  id: string;
}

export function encodeCursor(position: CursorPosition, queryFingerprint: string): string {
  return Buffer.from(JSON.stringify({ k: position.key, i: position.id, q: queryFingerprint })).toString(
    "base64url",
  );
}

export function decodeCursor(cursor: string, queryFingerprint: string): CursorPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw new SkalaError("CURSOR_INVALID", "the cursor is not one this server issued");
  }
  if (
    !parsed ||
    typeof parsed !== "object" ||
    !("k" in parsed && "i" in parsed && "q" in parsed) ||
    typeof parsed.k !== "number" ||
    !Number.isSafeInteger(parsed.k) ||
    typeof parsed.i !== "string"
  ) {
    throw new SkalaError("CURSOR_INVALID", "the cursor is not one this server issued");
  }
  if (parsed.q !== queryFingerprint) {
    throw new SkalaError("CURSOR_INVALID", "the cursor belongs to a different query (filters changed)");
  }
  return { key: parsed.k, id: parsed.i };
}
