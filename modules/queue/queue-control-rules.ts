/**
 * The operator's live controls of a concert's queue (SPEC §7/§8) and how the admitter follows
 * them, as pure functions: effective values (a null = the environment default), the phase of a
 * concert, and the timing of a node's admission rounds when concerts have intervals of their own.
 */
import { configuredRate, rateWindowMs } from "./queue-eta";
import type { AdmissionPolicy } from "./queue-store";
import type { RateSettings } from "./queue-view";

/** What the admitter applies to one concert. */
export interface QueueControls {
  paused: boolean;
  admitBatch: number;
  admitIntervalMs: number;
  activeMax: number;
}

/** A queue_control row as stored: null = the environment default. */
export interface StoredControls {
  paused: boolean;
  admitBatch: number | null;
  admitIntervalMs: number | null;
  activeMax: number | null;
}

export type ControlsPatch = Partial<StoredControls>;

export type QueueDefaults = Omit<QueueControls, "paused">;

/** Limits an operator may set; an interval below the minimum would only spin the admitter. */
export const CONTROL_LIMITS = {
  admitBatch: { min: 1, max: 100_000 },
  admitIntervalMs: { min: 100, max: 3_600_000 },
  activeMax: { min: 1, max: 10_000_000 },
} as const;

export const CONTROL_FIELDS = ["paused", "admitBatch", "admitIntervalMs", "activeMax"] as const;

/** A node wakes at least this often to notice changed controls (and intervals shorter than its tick). */
export const MAX_ADMIT_SLEEP_MS = 1000;

export function effectiveControls(stored: StoredControls | undefined, defaults: QueueDefaults): QueueControls {
  return {
    paused: stored?.paused ?? false,
    admitBatch: stored?.admitBatch ?? defaults.admitBatch,
    admitIntervalMs: stored?.admitIntervalMs ?? defaults.admitIntervalMs,
    activeMax: stored?.activeMax ?? defaults.activeMax,
  };
}

/** The fields of a PATCH body that are set; a body that sets none is refused by the caller. */
export function patchOf(body: Record<string, unknown>): ControlsPatch {
  const patch: ControlsPatch = {};
  for (const field of CONTROL_FIELDS) if (body[field] !== undefined) (patch as Record<string, unknown>)[field] = body[field];
  return patch;
}

/** Why a PATCH cannot be applied (field and message for the 422), or null. */
export function patchProblem(patch: ControlsPatch): { field: string; message: string } | null {
  if (Object.keys(patch).length === 0) {
    return { field: "body", message: "Set at least one of paused, admitBatch, admitIntervalMs, activeMax." };
  }
  // The validator lets null through optional fields; only the numbers have a default to go back to.
  if (patch.paused === null) return { field: "paused", message: "The 'paused' field must be true or false." };
  return null;
}

export type QueuePhase = "CLOSED" | "PRE_QUEUE" | "OPEN";

/** Before queueOpensAt CLOSED, then PRE_QUEUE until saleOpensAt, then OPEN; null = already open. */
export function queuePhase(
  concert: { queueOpensAt?: string | Date | null; saleOpensAt?: string | Date | null },
  nowMs: number,
): QueuePhase {
  const at = (value: string | Date | null | undefined) => (value == null ? null : new Date(value).getTime());
  const queueOpens = at(concert.queueOpensAt);
  const saleOpens = at(concert.saleOpensAt);
  if (queueOpens !== null && nowMs < queueOpens) return "CLOSED";
  if (saleOpens !== null && nowMs < saleOpens) return "PRE_QUEUE";
  return "OPEN";
}

/**
 * The node's tick: the shortest admission interval among the concerts it admits (never longer than
 * the default). Each concert is admitted only when its own interval has passed (checked in Redis).
 */
export function nodeTickMs(defaultIntervalMs: number, controls: Iterable<QueueControls>): number {
  let tick = defaultIntervalMs;
  for (const c of controls) tick = Math.min(tick, c.admitIntervalMs);
  return tick;
}

/**
 * How long since a concert's last round (Redis clock) before the scheduler runs the next one.
 * Rounds come at tick boundaries, so a fifth of a tick of slack keeps a concert whose interval
 * equals the tick from skipping every other round when a tick fires a little early.
 */
export function minElapsedMs(controls: QueueControls, tickMs: number): number {
  return Math.max(1, controls.admitIntervalMs - Math.floor(tickMs * 0.2));
}

/** The batch a round may admit: nobody while paused. */
export function roundBatch(controls: QueueControls): number {
  return controls.paused ? 0 : controls.admitBatch;
}

/**
 * Whether a node that last tried a round `sinceAttemptMs` ago tries one now, and how long it
 * sleeps after this wake-up: until its tick is due, but at most MAX_ADMIT_SLEEP_MS so that a
 * shortened interval or a resumed queue is noticed quickly.
 */
export function admitWake(sinceAttemptMs: number, tickMs: number): { attempt: boolean; sleepMs: number } {
  // Timers fire a millisecond or two off; 2 % of slack keeps one tick from slipping to the next wake.
  const attempt = sinceAttemptMs >= tickMs * 0.98;
  const remaining = attempt ? tickMs : tickMs - sinceAttemptMs;
  return { attempt, sleepMs: Math.max(10, Math.min(remaining, MAX_ADMIT_SLEEP_MS)) };
}

/** How long a node trusts cached controls: at most one interval of that concert (and a second). */
export function controlsTtlMs(controls: QueueControls): number {
  return Math.min(controls.admitIntervalMs, MAX_ADMIT_SLEEP_MS);
}

/** The Redis admission policy of one concert's round. */
export function admissionPolicyOf(controls: QueueControls, activeTtlMs: number): AdmissionPolicy {
  return {
    batch: roundBatch(controls),
    activeMax: controls.activeMax,
    activeTtlMs,
    rateWindowMs: rateWindowMs(controls.admitIntervalMs),
  };
}

/** How a concert's ETA is estimated: its own interval, its own batch before anything was observed. */
export function rateSettingsOf(controls: QueueControls): RateSettings {
  return { admitIntervalMs: controls.admitIntervalMs, fallbackRate: configuredRate(controls.admitBatch, controls.admitIntervalMs) };
}

/** How far back `admittedLastMinute` looks. */
export const ADMITTED_WINDOW_MS = 60_000;

export interface OperatorQueueView extends QueueControls {
  concertId: number;
  phase: QueuePhase;
  waiting: number;
  active: number;
  admittedLastMinute: number;
}

export function operatorQueueView(
  concertId: number,
  phase: QueuePhase,
  controls: QueueControls,
  counts: { waiting: number; active: number; admitted: number },
): OperatorQueueView {
  return {
    concertId,
    phase,
    paused: controls.paused,
    waiting: counts.waiting,
    active: counts.active,
    admitBatch: controls.admitBatch,
    admitIntervalMs: controls.admitIntervalMs,
    activeMax: controls.activeMax,
    admittedLastMinute: counts.admitted,
  };
}
