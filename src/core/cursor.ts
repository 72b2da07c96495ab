import { SkalaError } from "./errors.js";

/**
 * Keyset pagination cursors: the last row's sort key and id, plus a fingerprint of the query,
 * so a cursor from one listing is refused by another instead of silently skipping rows.
 */
export interface CursorPosition {
  key: string | number;
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
    (typeof parsed.k !== "string" && typeof parsed.k !== "number") ||
    typeof parsed.i !== "string"
  ) {
    throw new SkalaError("CURSOR_INVALID", "the cursor is not one this server issued");
  }
  if (parsed.q !== queryFingerprint) {
    throw new SkalaError(
      "CURSOR_INVALID",
      "the cursor belongs to a different query (filters or sort changed)",
    );
  }
  return { key: parsed.k, id: parsed.i };
}

/** A cursor whose sort key must be an integer (a rank, a sequence number): anything else is CURSOR_INVALID. */
export function decodeIntegerCursor(
  cursor: string,
  queryFingerprint: string,
): CursorPosition & { key: number } {
  const position = decodeCursor(cursor, queryFingerprint);
  if (typeof position.key !== "number" || !Number.isSafeInteger(position.key)) {
    throw new SkalaError("CURSOR_INVALID", "the cursor is not one this server issued");
  }
  return { key: position.key, id: position.id };
}
