import type { Static, TSchema } from "@sinclair/typebox";
import { alertsApi } from "../alerts/index.js";
import { autopilotApi } from "../autopilot/index.js";
import { fleetApi } from "../fleets/index.js";
import { monitoringApi } from "../monitoring/index.js";
import { registryApi } from "../registry/index.js";
import { scoringApi } from "../scoring/index.js";

/**
 * The Skala API as its client sees it: every operation under /api/v1, from the tables the server's routes
 * register from (registry.api.ts, fleets.api.ts, scoring.api.ts, monitoring.api.ts,
 * autopilot.api.ts, alerts.api.ts). The request and result types of
 * `SkalaClient.call` are derived from these entries' TypeBox schemas, never written by a caller.
 */

/** Where buildApp mounts the capabilities' routes; the tables' paths are relative to it. */
export const API_PREFIX = "/api/v1";

export const API = {
  ...registryApi,
  ...fleetApi,
  ...scoringApi,
  ...monitoringApi,
  ...autopilotApi,
  ...alertsApi,
};

export type Api = typeof API;
export type OperationName = keyof Api;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** A part of the request, when the operation declares it (`unknown` leaves the intersection unchanged). */
type ParamsPart<Op> = Op extends { readonly params: infer P extends TSchema }
  ? { params: Static<P> }
  : unknown;
type QueryPart<Op> = Op extends { readonly querystring: infer Q extends TSchema }
  ? // A querystring whose every field is optional may be left out altogether.
    object extends Static<Q>
    ? { query?: Static<Q> }
    : { query: Static<Q> }
  : unknown;
type BodyPart<Op> = Op extends { readonly body: infer B extends TSchema } ? { body: Static<B> } : unknown;

/** What a call of the operation takes: its path parameters, querystring and JSON body, as the schemas say. */
export type OperationRequest<Name extends OperationName> = Simplify<
  ParamsPart<Api[Name]> & QueryPart<Api[Name]> & BodyPart<Api[Name]>
>;

/** The JSON body of one success answer; `never` for an answer that is not JSON (a stream, a file). */
type JsonAnswer<Answer> = Answer extends { readonly content: infer Content }
  ? Content extends { readonly "application/json": { readonly schema: infer S extends TSchema } }
    ? Static<S>
    : never
  : Answer extends TSchema
    ? Static<Answer>
    : never;

type Answers<Name extends OperationName> = Api[Name]["response"][keyof Api[Name]["response"]];

/** What a call of the operation resolves to: the JSON body of any of its success statuses. */
export type OperationResult<Name extends OperationName> = JsonAnswer<Answers<Name>>;

/** Operations `call` reaches: a JSON answer, and no raw byte body (that is `upload`). */
export type JsonOperationName = {
  [Name in OperationName]: [OperationResult<Name>] extends [never]
    ? never
    : Api[Name] extends { readonly rawBody: true }
      ? never
      : Name;
}[OperationName];

/** Operations `stream` reaches: some success answer that is not JSON (events, CSV, bytes, text). */
export type StreamOperationName = {
  [Name in OperationName]: Answers<Name> extends infer Answer
    ? Answer extends { readonly content: infer Content }
      ? Exclude<keyof Content, "application/json"> extends never
        ? never
        : Name
      : never
    : never;
}[OperationName];

/** The request argument of `call` and `stream`: optional where the operation needs nothing. */
export type RequestArgument<Name extends OperationName> =
  object extends OperationRequest<Name>
    ? [request?: OperationRequest<Name>]
    : [request: OperationRequest<Name>];
