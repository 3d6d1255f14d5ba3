import { etaSeconds, observedRate } from "./queue-eta";
import type { QueueState, QueueStatus } from "./queue-store";

/** What the API shows of a queue entry (SPEC §3). */
export interface QueueStatusView {
  status: QueueStatus;
  position: number | null;
  etaSeconds: number | null;
  expiresAt: string | null;
}

export interface RateSettings {
  admitIntervalMs: number;
  /** Users per second assumed while no admission has been observed. */
  fallbackRate: number;
}

/** WAITING: 1-based place and an ETA; ACTIVE: place 0 and the expiry; EXPIRED: nothing. */
export function statusView(state: QueueState, rates: RateSettings): QueueStatusView {
  if (state.status === "ACTIVE") {
    return { status: "ACTIVE", position: 0, etaSeconds: 0, expiresAt: new Date(state.expiresAtMs ?? state.nowMs).toISOString() };
  }
  if (state.status === "PRE_QUEUE") {
    // No place yet (the order is drawn at the opening): the ETA is the time to the opening.
    const opensInMs = state.saleOpensMs == null ? 0 : Math.max(0, state.saleOpensMs - state.nowMs);
    return { status: "PRE_QUEUE", position: null, etaSeconds: Math.ceil(opensInMs / 1000), expiresAt: null };
  }
  if (state.status === "WAITING" && state.position !== null) {
    const rate = observedRate(state.window, state.nowMs, rates.admitIntervalMs) ?? rates.fallbackRate;
    return { status: "WAITING", position: state.position, etaSeconds: etaSeconds(state.position, rate), expiresAt: null };
  }
  return { status: "EXPIRED", position: null, etaSeconds: null, expiresAt: null };
}

/** Retry-After bounds (s) of a status poll: near the front about every second, far back rarely. */
export const RETRY_AFTER_MIN_S = 1;
export const RETRY_AFTER_MAX_S = 20;

/**
 * When a poller should ask again (SPEC §8): a tenth of the ETA, 1–20 s. It grows with the distance
 * to the front, and stays well under QUEUE_WAITING_IDLE_S so a patient poller is never idle.
 * Null (no header) for ACTIVE and EXPIRED: there is nothing to wait for.
 */
export function retryAfterSeconds(view: QueueStatusView, idleS = Number.POSITIVE_INFINITY): number | null {
  if ((view.status !== "WAITING" && view.status !== "PRE_QUEUE") || view.etaSeconds === null) return null;
  const cap = Math.max(RETRY_AFTER_MIN_S, Math.min(RETRY_AFTER_MAX_S, Math.floor(idleS / 4)));
  return Math.min(cap, Math.max(RETRY_AFTER_MIN_S, Math.ceil(view.etaSeconds / 10)));
}
