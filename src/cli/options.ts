import { InvalidArgumentError } from "commander";
import type { DeploymentRoute, EnvironmentName } from "../registry/index.js";

/** Parsers for option and argument values; a bad value is a usage error that names it. */

/** A repeatable option's values, in order. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function splitPair(pair: string, what: string): [string, string] {
  const at = pair.indexOf("=");
  if (at <= 0) throw new InvalidArgumentError(`${what} "${pair}" must look like key=value`);
  return [pair.slice(0, at), pair.slice(at + 1)];
}

/** A repeatable `key=value` option (`--tag a=b --tag c=d` → `{ a: "b", c: "d" }`). */
export function collectPairs(what: string) {
  return (pair: string, previous: Record<string, string> = {}): Record<string, string> => {
    const [key, value] = splitPair(pair, what);
    return { ...previous, [key]: value };
  };
}

/** A repeatable `--metric key=number`; a value that is not a finite number is refused. */
export function collectMetric(pair: string, previous: Record<string, number> = {}): Record<string, number> {
  const [key, value] = splitPair(pair, "metric");
  return { ...previous, [key]: finiteNumber(value, `metric ${key}=${value}`) };
}

export function finiteNumber(value: string, what = `"${value}"`): number {
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number))
    throw new InvalidArgumentError(`${what} is not a number`);
  return number;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`"${value}" is not a positive integer`);
  return n;
}

export function integer(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n))
    throw new InvalidArgumentError(`"${value}" is not an integer`);
  return n;
}

export function environmentName(value: string): EnvironmentName {
  if (value === "dev" || value === "test" || value === "prod") return value;
  throw new InvalidArgumentError(`"${value}" is not an environment (dev, test or prod)`);
}

/** `--route champion=90`, repeatable; the server checks that targets exist and weights sum to 100. */
export function collectRoute(value: string, previous: DeploymentRoute[]): DeploymentRoute[] {
  const match = /^([^=]+)=(\d{1,3})$/.exec(value);
  if (match === null) throw new InvalidArgumentError(`"${value}" is not target=weight (e.g. champion=90)`);
  return [...previous, { target: match[1] as string, weight: Number(match[2]) }];
}

/** An http(s) URL, for `--server`. */
export function serverUrl(value: string): string {
  if (!isHttpUrl(value)) throw new InvalidArgumentError(`"${value}" is not an http:// or https:// URL`);
  return value;
}

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}
