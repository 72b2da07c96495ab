import swagger from "@fastify/swagger";
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiOperation, routeOptions } from "../core/index.js";
import type { SkalaApp } from "../http/index.js";
import { testApp } from "../http/test-support/test-app.js";
import { API, API_PREFIX } from "./api.js";

/**
 * The route table is the contract: the server registers its /api/v1 routes from it and the client builds its
 * requests from it. These tests hold it to the OpenAPI document the server actually serves.
 */

type Operation = {
  operationId: string;
  responses: Record<string, unknown>;
};
type Document = { paths: Record<string, Record<string, Operation>> };

const openApiPath = (path: string) => `${API_PREFIX}${path.replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`;
const operations = Object.values(API) as ApiOperation[];

/** The /api/v1 operations of a document, without the error answers buildApp adds to every route. */
function apiOperations(doc: Document): Record<string, Operation> {
  return Object.fromEntries(
    Object.entries(doc.paths)
      .filter(([path]) => path.startsWith(`${API_PREFIX}/`))
      .flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, op]) => [
          `${method.toUpperCase()} ${path}`,
          {
            ...op,
            responses: Object.fromEntries(
              Object.entries(op.responses).filter(([status]) => /^2\d\d$/.test(status)),
            ),
          },
        ]),
      ),
  );
}

/**
 * The document of a server that has exactly the table's routes, with handlers that never run: written by
 * the same OpenAPI generator as Skala's, so both documents equal each other exactly when Skala registered
 * every route with the table's method, path and schemas.
 */
async function tableDocument(): Promise<Document> {
  const bare = Fastify();
  // Only the document is wanted; nothing is validated or serialized.
  bare.setValidatorCompiler(() => () => true);
  bare.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await bare.register(swagger, { openapi: { openapi: "3.1.0", info: { title: "table", version: "0" } } });
  await bare.register(
    async (api) => {
      for (const op of operations) {
        api.route({
          ...routeOptions(op),
          handler: async () => {
            throw new Error("never called");
          },
        });
      }
    },
    { prefix: API_PREFIX },
  );
  await bare.ready();
  const doc = bare.swagger() as unknown as Document;
  await bare.close();
  return doc;
}

describe("the API route table", () => {
  let app: SkalaApp;
  let close: () => Promise<void>;
  let served: Record<string, Operation>;

  beforeAll(async () => {
    ({ app, close } = await testApp());
    await app.ready();
    served = apiOperations(app.swagger() as unknown as Document);
  });
  afterAll(() => close());

  it("has an entry for every /api/v1 operation of the OpenAPI document, and nothing else", () => {
    const documented = Object.entries(served).map(([route, op]) => `${op.operationId} ${route}`);
    const tabled = operations.map((op) => `${op.operationId} ${op.method} ${openApiPath(op.path)}`);
    // The capabilities' tables spread into one, so a name two of them used would leave a route out here.
    expect(tabled.sort()).toEqual(documented.sort());
    // And no two entries name the same route.
    expect(tabled.length).toBe(new Set(operations.map((op) => `${op.method} ${op.path}`)).size);
  });

  it("is what the server registered: tags, summary, parameters, querystring, body and success answers", async () => {
    const fromTable = apiOperations(await tableDocument());
    for (const route of Object.keys(fromTable)) {
      expect(served[route], route).toEqual(fromTable[route]);
    }
    expect(Object.keys(served).sort()).toEqual(Object.keys(fromTable).sort());
  });
});
