import type { Deployment, DeploymentRoute } from "../registry/index.js";

/**
 * Deployment routing: which route of a deployment answers a request that names no version. With a request id
 * the choice is a hash of (model, id), so a client retrying a request, or a user whose requests carry their
 * id, always lands on the same version; without one it is random. Each route's weight is its share in
 * percent.
 */

/** FNV-1a over UTF-16 code units: fast, stable across processes and versions, good enough to spread ids. */
export function stableHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  // A final avalanche so ids that differ in the last character spread over the whole range.
  hash ^= hash >>> 15;
  hash = Math.imul(hash, 0x2c1b3c6d);
  hash ^= hash >>> 12;
  return hash >>> 0;
}

/** A number in [0, 100): the request's position on the traffic split. */
export function trafficPoint(model: string, requestId: string | undefined, random = Math.random): number {
  if (requestId === undefined || requestId === "") return random() * 100;
  return (stableHash(`${model}\u0000${requestId}`) % 10_000) / 100;
}

export function pickRoute(routes: readonly DeploymentRoute[], point: number): DeploymentRoute | undefined {
  let upTo = 0;
  let last: DeploymentRoute | undefined;
  for (const route of routes) {
    if (route.weight <= 0) continue;
    upTo += route.weight;
    last = route;
    if (point < upTo) return route;
  }
  // Weights sum to 100, so this is reached only through rounding at the top end.
  return last;
}

interface Cached {
  deployment: Deployment | undefined;
  expiresAt: number;
}

/**
 * Deployments looked up per model and kept for `ttlMs`, so a busy server asks the database once a second per
 * model rather than once per request. A changed deployment takes effect on every server within `ttlMs`;
 * aliases its routes name are still resolved on every request.
 */
export class DeploymentCache {
  readonly #entries = new Map<string, Cached>();
  readonly #inflight = new Map<string, Promise<Deployment | undefined>>();

  constructor(
    private readonly lookup: (model: string) => Promise<Deployment | undefined>,
    private readonly ttlMs: number,
    private readonly now: () => number = () => performance.now(),
    /** Beyond this many models the cache starts over rather than grow without bound. */
    private readonly maxEntries = 100_000,
  ) {}

  async get(model: string): Promise<Deployment | undefined> {
    const cached = this.#entries.get(model);
    if (cached !== undefined && cached.expiresAt > this.now()) return cached.deployment;
    let flight = this.#inflight.get(model);
    if (flight === undefined) {
      flight = this.lookup(model).then(
        (deployment) => {
          this.#inflight.delete(model);
          if (this.#entries.size >= this.maxEntries) this.#entries.clear();
          this.#entries.set(model, { deployment, expiresAt: this.now() + this.ttlMs });
          return deployment;
        },
        (error: unknown) => {
          this.#inflight.delete(model);
          throw error;
        },
      );
      this.#inflight.set(model, flight);
    }
    return flight;
  }

  invalidate(model?: string): void {
    if (model === undefined) this.#entries.clear();
    else this.#entries.delete(model);
  }
}
