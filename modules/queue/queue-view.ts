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
  if (state.status === "WAITING" && state.position !== null) {
    const rate = observedRate(state.window, state.nowMs, rates.admitIntervalMs) ?? rates.fallbackRate;
    return { status: "WAITING", position: state.position, etaSeconds: etaSeconds(state.position, rate), expiresAt: null };
  }
  return { status: "EXPIRED", position: null, etaSeconds: null, expiresAt: null };
}
