/**
 * When a failed webhook delivery is tried again. Exponential with "equal jitter" (half the delay fixed, half
 * random), as the job queue's own backoff, so receivers that fail together are not all retried in one instant;
 * a receiver's Retry-After (on 429 and 503) is honoured when it asks for longer, up to `maxRetryAfterMs`.
 */
export interface RetrySchedule {
  /** Delay after the first failed attempt, in ms; doubles with each further one. Default 15,000. */
  baseMs: number;
  /** Upper bound of one computed delay, in ms. Default 3,600,000 (1 hour). */
  maxMs: number;
  /** Upper bound of a delay a receiver's Retry-After may ask for, in ms. Default 3,600,000. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_SCHEDULE: RetrySchedule = {
  baseMs: 15_000,
  maxMs: 3_600_000,
  maxRetryAfterMs: 3_600_000,
};

/** The delay before attempt `failedAttempt + 1`. */
export function retryDelayMs(
  failedAttempt: number,
  schedule: RetrySchedule,
  random: () => number,
  retryAfterMs?: number,
): number {
  const exponential = Math.min(schedule.maxMs, schedule.baseMs * 2 ** Math.max(0, failedAttempt - 1));
  const jittered = Math.round(exponential / 2 + (exponential / 2) * random());
  if (retryAfterMs === undefined) return jittered;
  return Math.max(jittered, Math.min(schedule.maxRetryAfterMs, retryAfterMs));
}

/** A Retry-After header (delay-seconds or an HTTP date) in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at) || !/[a-z]/i.test(text)) return undefined;
  return Math.max(0, at - now.getTime());
}

/**
 * Whether another attempt may help: no answer (connection refused, reset, timeout), 408, 425, 429 and every
 * 5xx. Other answers (2xx is success; 3xx, since redirects are never followed; 4xx such as 400, 401, 404, 410)
 * say the receiver refuses this request, and the delivery goes to the dead letters at once.
 */
export function isRetryable(status: number | null): boolean {
  if (status === null) return true;
  return status === 408 || status === 425 || status === 429 || status >= 500;
}
