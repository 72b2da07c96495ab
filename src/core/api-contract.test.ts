import { Type } from "@sinclair/typebox";
import { describe, expect, it } from "vitest";
import { defineApi, fillPath, pathParameters, routeOptions } from "./api-contract.js";

describe("the operation table", () => {
  const Thing = Type.Object({ id: Type.String() });

  it("names each operation by its key and gives Fastify its method, path and schemas", () => {
    const api = defineApi({
      getThing: {
        method: "GET",
        path: "/things/:id",
        tag: "things",
        summary: "Get a thing",
        params: Type.Object({ id: Type.String() }),
        response: { 200: Thing },
      },
    });
    expect(api.getThing.operationId).toBe("getThing");
    const route = routeOptions(api.getThing);
    expect(route).toEqual({
      method: "GET",
      url: "/things/:id",
      schema: {
        tags: ["things"],
        operationId: "getThing",
        summary: "Get a thing",
        params: api.getThing.params,
        response: { 200: Thing },
      },
    });
    // The route gets its own response map, which Fastify's hooks may extend.
    expect(route.schema.response).not.toBe(api.getThing.response);
    expect(Object.isFrozen(api.getThing)).toBe(true);
  });

  it("refuses a path whose placeholders and params schema disagree", () => {
    expect(() =>
      defineApi({
        getThing: {
          method: "GET",
          path: "/things/:id/parts/:part",
          tag: "things",
          summary: "Get a part",
          params: Type.Object({ id: Type.String(), name: Type.String() }),
          response: { 200: Thing },
        },
      }),
    ).toThrow(
      "getThing: the path /things/:id/parts/:part has the parameters [id, part], its params schema [id, name]",
    );
    expect(() =>
      defineApi({
        listThings: { method: "GET", path: "/things/:id", tag: "t", summary: "s", response: { 200: Thing } },
      }),
    ).toThrow("listThings: the path /things/:id has the parameters [id], its params schema []");
  });

  it("reads and fills path templates", () => {
    expect(pathParameters("/projects/:project/runs/:run/metrics/:key")).toEqual(["project", "run", "key"]);
    expect(fillPath("/projects/:project/runs/:run", (name) => `<${name}>`)).toBe(
      "/projects/<project>/runs/<run>",
    );
  });
});
