/**
 * What a queue stream knows of its user, and how the events the admitter publishes change it,
 * without asking Redis (SPEC §8: one subscription per node, no round trip per client per tick).
 * Events carry a per-concert version; a client applies only versions newer than its own state, so
 * an event already contained in the state it read is never applied twice.
 *
 *   round {v, hi, n, exp, now, wa, wo, iv, rb, r:[[user, score]...]}
 *       n users admitted, every waiting score <= hi is gone (admitted, or reaped and listed in r)
 *   left  {v, u, s, w}   user u left (w = 1: was waiting with score s)
 *   open  {v}            the pre-queue was shuffled into the line: positions must be read again
 */
import type { QueueStatus } from "./queue-store";
import { statusView, type QueueStatusView, type RateSettings } from "./queue-view";
import type { AdmissionWindow } from "./queue-eta";

export interface StreamPosition {
  status: QueueStatus;
  position: number | null;
  /** The user's score in the waiting ZSET (entry order; shuffled pre-queue users below 0). */
  score: number | null;
  expiresAtMs: number | null;
  /** Version of the last event contained in this state. */
  v: number;
}

/** What a concert's streams share: the latest rates and clock seen on this node. */
export interface ConcertClock {
  nowMs: number;
  /** Redis clock minus this node's clock when nowMs was read. */
  offsetMs: number;
  window: AdmissionWindow;
  rates: RateSettings;
  saleOpensMs: number | null;
}

export type StreamEvent =
  | { t: "round"; v: number; hi: number; n: number; exp: number; now: number; wa: number; wo: number; iv: number; rb: number; r: Array<[string, number]> }
  | { t: "left"; v: number; u: string; s: number; w: number }
  | { t: "open"; v: number };

/** A published message, or null when it is not one of ours. */
export function parseStreamEvent(text: string): StreamEvent | null {
  try {
    const event = JSON.parse(text) as Record<string, unknown>;
    if (typeof event.v !== "number") return null;
    if (event.t === "round") {
      const reaped = Array.isArray(event.r) ? (event.r as Array<[string, number]>) : [];
      return { ...(event as unknown as StreamEvent & { t: "round" }), r: reaped };
    }
    if (event.t === "left" && typeof event.u === "string") return event as unknown as StreamEvent;
    if (event.t === "open") return event as unknown as StreamEvent;
    return null;
  } catch {
    return null;
  }
}

/**
 * The state after `event`, or the same object when it changes nothing for this user. An event not
 * newer than the state is ignored; "open" is handled by the caller (a fresh read).
 */
export function applyStreamEvent(state: StreamPosition, userId: string, event: StreamEvent): StreamPosition {
  if (event.v <= state.v) return state;
  const next = { ...state, v: event.v };
  if (event.t === "left") {
    if (event.u === userId) return { ...next, status: "EXPIRED", position: null, score: null, expiresAtMs: null };
    if (state.status === "WAITING" && event.w === 1 && state.score !== null && event.s < state.score && state.position !== null) {
      return { ...next, position: Math.max(1, state.position - 1) };
    }
    return next;
  }
  if (event.t !== "round" || state.status !== "WAITING" || state.score === null || state.position === null) return next;
  if (event.r.some(([user]) => user === userId)) return { ...next, status: "EXPIRED", position: null, score: null, expiresAtMs: null };
  if (event.n > 0 && state.score <= event.hi) return { ...next, status: "ACTIVE", position: 0, score: null, expiresAtMs: event.exp };
  const reapedAhead = event.r.filter(([, score]) => score < state.score!).length;
  return { ...next, position: Math.max(1, state.position - event.n - reapedAhead) };
}

/** A round's rates and clock for the concert's ETA. */
export function clockOfRound(event: StreamEvent & { t: "round" }, saleOpensMs: number | null, localNowMs = Date.now()): ConcertClock {
  return {
    nowMs: event.now,
    offsetMs: event.now - localNowMs,
    window: { admitted: event.wa, oldestRoundMs: event.wo < 0 ? null : event.wo },
    rates: { admitIntervalMs: event.iv, fallbackRate: event.iv > 0 ? (event.rb * 1000) / event.iv : 1 },
    saleOpensMs,
  };
}

/** The `event: status` payload of a state (SPEC §8: {status, position, etaSeconds, expiresAt}). */
export function streamView(state: StreamPosition, clock: ConcertClock, localNowMs = Date.now()): QueueStatusView {
  return statusView(
    {
      status: state.status,
      position: state.position,
      expiresAtMs: state.expiresAtMs,
      nowMs: localNowMs + clock.offsetMs,
      window: clock.window,
      saleOpensMs: clock.saleOpensMs,
    },
    clock.rates,
  );
}

/** One SSE frame. */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
