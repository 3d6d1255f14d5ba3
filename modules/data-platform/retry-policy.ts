/**
 * When to retry a delivery to the data platform, and how long to wait: pure functions, so the
 * policy is unit-tested without servers or clocks.
 */

export interface BackoffPolicy {
  /** Delay before the 2nd attempt, before jitter (ms). */
  baseMs: number;
  /** No delay exceeds this (ms). */
  maxMs: number;
  /** Growth per attempt; 2 doubles. */
  factor?: number;
}

/**
 * Delay before attempt `attempt + 1`, after `attempt` (>= 1) failed: exponential, capped, with
 * "equal jitter" (uniform in [d/2, d]) so that consumers hit by the same outage do not retry in
 * lockstep, yet never retry immediately. `random` returns [0, 1).
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be an integer >= 1, got ${attempt}`);
  const factor = policy.factor ?? 2;
  const ceiling = Math.min(policy.maxMs, policy.baseMs * factor ** (attempt - 1));
  const half = ceiling / 2;
  return Math.round(half + random() * half);
}

/** What one HTTP attempt means for the message. */
export type AttemptVerdict = "done" | "retry" | "reject";

/**
 * 2xx: applied (or already applied). 5xx, 408 and 429: the platform is unwell or busy, so try
 * again. Any other status (4xx, and 1xx/3xx which a JSON API never should send): the platform
 * refuses this message for good, so it goes to the dead-letter topic.
 */
export function verdictForStatus(status: number): AttemptVerdict {
  if (status >= 200 && status < 300) return "done";
  if (status >= 500 || status === 408 || status === 429) return "retry";
  return "reject";
}
