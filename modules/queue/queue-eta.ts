/**
 * Waiting-time estimate. The rate is what the admitter actually achieved recently (it drops when
 * the active set is full and admission waits for expiries); before anything was admitted, the
 * configured rate stands in.
 */

/** Admissions recorded since the start of the rate window. */
export interface AdmissionWindow {
  admitted: number;
  /** Time (ms, Redis clock) of the oldest admission round in the window, or null if none. */
  oldestRoundMs: number | null;
}

/** How far back the observed rate looks: a minute, or ten rounds if rounds are slower than that. */
export function rateWindowMs(admitIntervalMs: number): number {
  return Math.max(60_000, 10 * admitIntervalMs);
}

/** The configured rate: one batch per interval. */
export function configuredRate(batch: number, admitIntervalMs: number): number {
  return (batch * 1000) / admitIntervalMs;
}

/**
 * Users admitted per second over the window, or null when the window saw no admission. Each
 * recorded round stands for one interval, so the span runs from the oldest round's start to now.
 */
export function observedRate(window: AdmissionWindow, nowMs: number, admitIntervalMs: number): number | null {
  if (window.admitted <= 0 || window.oldestRoundMs === null) return null;
  const spanMs = Math.max(nowMs - window.oldestRoundMs, 0) + admitIntervalMs;
  return (window.admitted * 1000) / spanMs;
}

/** Whole seconds until a user at 1-based `position` is admitted, at `rate` users per second. */
export function etaSeconds(position: number, rate: number): number {
  if (position <= 0) return 0;
  if (!(rate > 0)) throw new RangeError(`rate must be positive, got ${rate}`);
  return Math.ceil(position / rate);
}
