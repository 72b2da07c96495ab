import type { TObject, TSchema } from "@sinclair/typebox";

/**
 * An HTTP operation described as data: method, path template and the TypeBox schemas of its parts. A
 * capability's `*.api.ts` names each of its operations once; its routes register from these entries
 * (`routeOptions`) and the CLI's client derives its argument and result types from the same entries, so the
 * server and its client cannot drift. No HTTP library is involved here, only the description.
 */

export type ApiMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** A success answer that is not JSON (a byte stream, server-sent events, CSV), as OpenAPI describes one. */
export interface MediaResponse {
  readonly description: string;
  readonly content: Readonly<Record<string, { readonly schema: TSchema }>>;
}

export interface ApiOperationSpec {
  readonly method: ApiMethod;
  /** Fastify's template, relative to the API's prefix: `/projects/:project/models/:model`. */
  readonly path: string;
  /** The OpenAPI tag that groups the operation. */
  readonly tag: string;
  readonly summary: string;
  readonly description?: string;
  /** One property per `:name` of the path, no more. */
  readonly params?: TObject;
  readonly querystring?: TObject;
  readonly headers?: TObject;
  /** A JSON body. */
  readonly body?: TSchema;
  /** The body is raw bytes of any type, streamed to the handler (no schema validates it). */
  readonly rawBody?: true;
  /** Each success status and its answer: a schema for JSON, a MediaResponse for anything else. */
  readonly response: Readonly<Record<number, TSchema | MediaResponse>>;
}

/** An operation of a table: its spec, named by its key, which is also its OpenAPI operationId. */
export type ApiOperation<
  Spec extends ApiOperationSpec = ApiOperationSpec,
  Id extends string = string,
> = Spec & {
  readonly operationId: Id;
};

export type ApiTable<Specs extends Record<string, ApiOperationSpec>> = {
  readonly [Id in keyof Specs & string]: ApiOperation<Specs[Id], Id>;
};

const PLACEHOLDER = /:([A-Za-z][A-Za-z0-9_]*)/g;

/** The `:name` placeholders of a path template, in order. */
export function pathParameters(path: string): string[] {
  return [...path.matchAll(PLACEHOLDER)].map((match) => match[1] as string);
}

/** The template with each `:name` replaced by `segment(name)`. */
export function fillPath(path: string, segment: (name: string) => string): string {
  return path.replace(PLACEHOLDER, (_placeholder, name: string) => segment(name));
}

/**
 * Names each operation by its key. Throws when a path's placeholders and its params schema disagree, so a
 * table that could not route or could not build its URLs fails when its module loads.
 */
export function defineApi<const Specs extends Record<string, ApiOperationSpec>>(
  specs: Specs,
): ApiTable<Specs> {
  const table: Record<string, ApiOperation> = {};
  for (const [operationId, spec] of Object.entries(specs)) {
    const placeholders = pathParameters(spec.path).sort();
    const declared = Object.keys(spec.params?.properties ?? {}).sort();
    if (placeholders.join() !== declared.join()) {
      throw new Error(
        `${operationId}: the path ${spec.path} has the parameters [${placeholders.join(", ")}], ` +
          `its params schema [${declared.join(", ")}]`,
      );
    }
    table[operationId] = Object.freeze({ ...spec, operationId });
  }
  return Object.freeze(table) as ApiTable<Specs>;
}

type Part<Op, Key extends string> = Op extends { readonly [K in Key]: infer Schema } ? Schema : undefined;

/** What Fastify registers for an operation: `app.route({ ...routeOptions(op), handler })`. */
export function routeOptions<const Op extends ApiOperation>(
  op: Op,
): {
  method: Op["method"];
  url: Op["path"];
  schema: {
    tags: string[];
    operationId: Op["operationId"];
    summary: string;
    description?: string;
    params: Part<Op, "params">;
    querystring: Part<Op, "querystring">;
    headers: Part<Op, "headers">;
    body: Part<Op, "body">;
    response: Op["response"];
  };
} {
  const schema = {
    tags: [op.tag],
    operationId: op.operationId,
    summary: op.summary,
    ...(op.description !== undefined && { description: op.description }),
    ...(op.params !== undefined && { params: op.params }),
    ...(op.querystring !== undefined && { querystring: op.querystring }),
    ...(op.headers !== undefined && { headers: op.headers }),
    ...(op.body !== undefined && { body: op.body }),
    // A copy: Fastify and its hooks may replace the map (the error shapes are added to it per route).
    response: { ...op.response },
  };
  // A part the operation lacks is absent here and `undefined` in the type, which Fastify's type provider reads
  // as "no schema"; TypeScript cannot relate the spreads above to those conditional types by itself.
  return { method: op.method, url: op.path, schema: schema as never };
}
