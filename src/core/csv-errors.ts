/**
 * What a CSV parser's error (csv-parse's `CsvError`) says, without the content it may quote: csv-parse's
 * own messages carry the field it stopped in (`Invalid Opening Quote: … value is "root:x:0:0:…"`), and a
 * message must never echo a file's content. Worded from the error's code; the line is the caller's to add.
 *
 * @example
 * throw new SkalaError("DATASET_INVALID", `line ${error.lines}: ${csvErrorMessage(error)}`);
 */
export function csvErrorMessage(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  switch (code) {
    case "CSV_RECORD_INCONSISTENT_FIELDS_LENGTH":
    case "CSV_RECORD_DONT_MATCH_COLUMNS_LENGTH":
      return "a record has another number of fields than the header";
    case "CSV_QUOTE_NOT_CLOSED":
      return "a quoted field is never closed";
    case "INVALID_OPENING_QUOTE":
      return "a quote inside a field that does not start with one (quote the whole field and double the quote)";
    case "CSV_INVALID_CLOSING_QUOTE":
    case "CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE":
      return "a quoted field goes on after its closing quote";
    case "CSV_MAX_RECORD_SIZE":
      return "a record is longer than the limit (is this a CSV file with line breaks?)";
    case undefined:
      return "unreadable CSV";
    default:
      return `unreadable CSV (${String(code)})`;
  }
}
