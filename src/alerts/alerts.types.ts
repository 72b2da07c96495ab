/** What alerts are: raised by a source about a subject, deduplicated while open, handled by a person. */

export const SEVERITIES = ["info", "warning", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** open → acknowledged → resolved; open → resolved. A resolved alert is history: the next raise opens another. */
export const ALERT_STATUSES = ["open", "acknowledged", "resolved"] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/** What a webhook is told about. */
export const ALERT_EVENTS = [
  "alert.raised",
  "alert.escalated",
  "alert.acknowledged",
  "alert.resolved",
] as const;
export type AlertEvent = (typeof ALERT_EVENTS)[number];

/** Bounds on what one alert may hold. */
export const ALERT_LIMITS = {
  /** Evidence as JSON text, in bytes (UTF-8). */
  evidenceBytes: 16_384,
  titleChars: 200,
  reasonChars: 2_000,
  subjectChars: 300,
  dedupKeyChars: 300,
  actorChars: 200,
  noteChars: 2_000,
} as const;

export function severityRank(severity: Severity): number {
  switch (severity) {
    case "info":
      return 1;
    case "warning":
      return 2;
    case "critical":
      return 3;
  }
}

/** Who did something to an alert, when, and why. */
export interface AlertAction {
  by: string;
  at: string;
  note: string | null;
}

export interface Alert {
  id: string;
  project: string;
  /** What raised it: `monitoring`, `autopilot`, or an outside system. */
  source: string;
  /** What it is about, by convention `model:<name>`, `model:<name>@<version>` or `fleet:<name>`. */
  subject: string;
  severity: Severity;
  title: string;
  reason: string;
  /** JSON the source attached (figures, windows), at most ALERT_LIMITS.evidenceBytes as text. */
  evidence: unknown;
  /** The same key raised while the alert is open or acknowledged updates this alert instead of adding one. */
  dedupKey: string;
  status: AlertStatus;
  /** How many times the condition was raised while this alert was unresolved. */
  count: number;
  firstSeenAt: string;
  lastSeenAt: string;
  acknowledged: AlertAction | null;
  resolved: AlertAction | null;
  updatedAt: string;
}

export interface RaiseAlertInput {
  source: string;
  subject: string;
  severity: Severity;
  title: string;
  reason: string;
  evidence?: unknown;
  /** Default: `<source>|<subject>|<title>`. */
  dedupKey?: string;
}

export interface RaiseAlertResult {
  alert: Alert;
  /** false: an unresolved alert with the key existed and was updated (last seen, count, severity). */
  created: boolean;
}

export interface AlertActionInput {
  by: string;
  note?: string;
}

export interface ListAlertsOptions {
  /** Default: open and acknowledged (the inbox). */
  status?: readonly AlertStatus[];
  severity?: readonly Severity[];
  source?: string;
  subject?: string;
  limit?: number;
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  /** Pass it back as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}
