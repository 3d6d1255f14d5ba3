import type Redis from "ioredis";
import type { AdmissionWindow } from "./queue-eta";
import { queueAdmitLeaseKey, queueConcertsKey, queueKeys } from "./queue-keys";
import { defineQueueScripts, type QueueScripts } from "./queue-scripts";

export type QueueStatus = "WAITING" | "ACTIVE" | "EXPIRED";

/** A user's place in one concert's queue, as Redis saw it at `nowMs`. */
export interface QueueState {
  status: QueueStatus;
  /** 1-based among waiting users; 0 when active; null when expired. */
  position: number | null;
  expiresAtMs: number | null;
  nowMs: number;
  window: AdmissionWindow;
}

export interface EntryResult extends QueueState {
  /** False when the user already had a live entry (same nonce, same place). */
  created: boolean;
  nonce: string;
}

export interface AdmissionPolicy {
  batch: number;
  activeMax: number;
  activeTtlMs: number;
  rateWindowMs: number;
}

export interface AdmissionRound {
  concertId: number;
  admitted: number;
  expired: number;
  waiting: number;
  active: number;
  nowMs: number;
  window: AdmissionWindow;
}

function admissionWindow(admitted: unknown, oldest: unknown): AdmissionWindow {
  const oldestMs = Number(oldest);
  return { admitted: Number(admitted), oldestRoundMs: oldestMs < 0 ? null : oldestMs };
}

function queueState(status: unknown, position: unknown, expiresAt: unknown, now: unknown, window: AdmissionWindow): QueueState {
  const expiresAtMs = Number(expiresAt);
  const place = Number(position);
  return {
    status: status as QueueStatus,
    position: place < 0 ? null : place,
    expiresAtMs: expiresAtMs < 0 ? null : expiresAtMs,
    nowMs: Number(now),
    window,
  };
}

/** The queue's Redis state: every change goes through one atomic script. */
export class QueueStore {
  private readonly scripts: QueueScripts;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.scripts = defineQueueScripts(redis);
  }

  /** Joins the back of the queue, or returns the user's live entry unchanged. */
  async enter(concertId: number, userId: string, freshNonce: string, rateWindowMs: number): Promise<EntryResult> {
    const k = queueKeys(this.prefix, concertId);
    const reply = (await this.scripts.enter(
      k.seq, k.waiting, k.active, k.tokens, queueConcertsKey(this.prefix), k.stats,
      userId, freshNonce, concertId, rateWindowMs,
    )) as unknown[];
    const [created, nonce, status, position, expiresAt, now, admitted, oldest] = reply;
    return {
      ...queueState(status, position, expiresAt, now, admissionWindow(admitted, oldest)),
      created: created === 1,
      nonce: String(nonce),
    };
  }

  /** Where the entry with `nonce` stands; EXPIRED if that nonce is not the user's current one. */
  async state(concertId: number, userId: string, nonce: string, rateWindowMs: number): Promise<QueueState> {
    const k = queueKeys(this.prefix, concertId);
    const reply = (await this.scripts.status(k.waiting, k.active, k.tokens, k.stats, userId, nonce, rateWindowMs)) as unknown[];
    const [status, position, expiresAt, now, admitted, oldest] = reply;
    return queueState(status, position, expiresAt, now, admissionWindow(admitted, oldest));
  }

  /** Removes the user's entry; with a nonce only if it is still the current one. */
  async remove(concertId: number, userId: string, nonce?: string): Promise<boolean> {
    const k = queueKeys(this.prefix, concertId);
    return (await this.scripts.remove(k.waiting, k.active, k.tokens, userId, nonce ?? "")) === 1;
  }

  /** One atomic admission round for one concert. `roundId` makes the round's stats record unique. */
  async admit(concertId: number, policy: AdmissionPolicy, roundId: string): Promise<AdmissionRound> {
    const k = queueKeys(this.prefix, concertId);
    const reply = (await this.scripts.admit(
      k.waiting, k.active, k.tokens, k.stats, queueConcertsKey(this.prefix),
      policy.batch, policy.activeMax, policy.activeTtlMs, concertId, policy.rateWindowMs, roundId,
    )) as number[];
    const [admitted, expired, waiting, active, now, total, oldest] = reply;
    return { concertId, admitted, expired, waiting, active, nowMs: now, window: admissionWindow(total, oldest) };
  }

  /** Concerts that have someone waiting or active. */
  async concerts(): Promise<number[]> {
    const ids = await this.redis.smembers(queueConcertsKey(this.prefix));
    return ids.map(Number).filter((id) => Number.isInteger(id) && id > 0).sort((a, b) => a - b);
  }

  /** Waiting and active counts (for metrics on nodes that did not run the round). */
  async lengths(concertId: number): Promise<{ waiting: number; active: number }> {
    const k = queueKeys(this.prefix, concertId);
    const [waiting, active] = await Promise.all([this.redis.zcard(k.waiting), this.redis.zcard(k.active)]);
    return { waiting, active };
  }

  /** Takes the scheduled-round lease for `ttlMs` unless another node holds it. */
  async tryAdmitLease(owner: string, ttlMs: number): Promise<boolean> {
    const ok = await this.redis.set(queueAdmitLeaseKey(this.prefix), owner, "PX", Math.max(1, ttlMs), "NX");
    return ok === "OK";
  }
}
