/** Tags, params and metrics live in key/value tables; this folds rows back into one record per owner. */
export function groupKeyValues<V>(
  rows: ReadonlyArray<{ owner: string; key: string; value: V }>,
): Map<string, Record<string, V>> {
  const grouped = new Map<string, Record<string, V>>();
  for (const row of rows) {
    let bucket = grouped.get(row.owner);
    if (!bucket) {
      bucket = {};
      grouped.set(row.owner, bucket);
    }
    bucket[row.key] = row.value;
  }
  return grouped;
}
