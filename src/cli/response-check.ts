import { FormatRegistry, type TSchema } from "@sinclair/typebox";
import { type TypeCheck, TypeCompiler } from "@sinclair/typebox/compiler";
import type { ApiOperation } from "../core/index.js";

/** RFC 3339 date-time, as the response schemas' timestamps are declared (`format: "date-time"`). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * Checks answers against their operation's response schema (compiled once per operation and status). A
 * mismatch is a bug, of the server or of this client's table, never the user's: it throws a plain Error.
 */
export class ResponseCheck {
  private readonly compiled = new Map<string, TypeCheck<TSchema>>();

  constructor() {
    // TypeBox refuses a format it does not know; the schemas use this one only.
    if (!FormatRegistry.Has("date-time")) {
      FormatRegistry.Set("date-time", (value) => DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)));
    }
  }

  check(op: ApiOperation, status: number, body: unknown): void {
    const answer = op.response[status];
    if (answer === undefined) {
      throw new Error(
        `${op.operationId} answered ${status}, which its table entry does not declare ` +
          `(${Object.keys(op.response).join(", ")})`,
      );
    }
    const schema = "content" in answer ? answer.content["application/json"]?.schema : answer;
    if (schema === undefined) throw new Error(`${op.operationId} answers ${status} with no JSON body`);
    const key = `${op.operationId} ${status}`;
    let check = this.compiled.get(key);
    if (check === undefined) {
      check = TypeCompiler.Compile(schema);
      this.compiled.set(key, check);
    }
    if (check.Check(body)) return;
    const problems = [...check.Errors(body)]
      .slice(0, 10)
      .map((error) => `${error.path || "/"}: ${error.message}`);
    throw new Error(
      `${op.operationId} answered ${status} with a body its response schema refuses: ${problems.join("; ")}`,
    );
  }
}
