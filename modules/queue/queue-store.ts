import type { RedisClient } from "../../mixins/redis.mixin";
import type { AdmissionWindow } from "./queue-eta";
import { queueAdmitLeaseKey, queueConcertsKey, queueKeys } from "./queue-keys";
import { defineQueueScripts, type QueueScripts } from "./queue-scripts";

export type QueueStatus = "PRE_QUEUE" | "WAITING" | "ACTIVE" | "EXPIRED";

/** A user's place in one concert's queue, as Redis saw it at `nowMs`. */
export interface QueueState {
  status: QueueStatus;
  /** 1-based among waiting users; 0 when active; null when expired. */
  position: number | null;
  expiresAtMs: number | null;
  nowMs: number;
  window: AdmissionWindow;
  /** When the pre-queue is shuffled into the line (PRE_QUEUE's ETA), if the concert has one. */
  saleOpensMs?: number | null;
}

/** A concert's entry windows (ms since epoch); null = no such limit. */
export interface EntryWindows {
  queueOpensMs: number | null;
  saleOpensMs: number | null;
}

/** Entering before queueOpensAt: nothing was written. */
export interface ClosedEntry {
  closed: true;
  nowMs: number;
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
  /** False when the concert's own interval had not passed since its last round (nothing done). */
  ran: boolean;
  admitted: number;
  expired: number;
  waiting: number;
  active: number;
  nowMs: number;
  window: AdmissionWindow;
  /** Idle waiting users whose places were given back (EXPIRED) in this round. */
  reaped?: number;
  /** Someone is in the pre-queue (not yet shuffled into the line): nobody was admitted. */
  prePending?: boolean;
}

/** What an admission round tells the streams about rates (for their ETA). */
export interface RoundRates {
  admitIntervalMs: number;
  rateBatch: number;
}

/** Places of waiting users idle for longer than this are given back; at most `reapMax` per round. */
export interface IdlePolicy {
  idleMs: number;
  reapMax: number;
  /** How long a left entry is remembered (longer than any hold). */
  leftTtlMs?: number;
}

function admissionWindow(admitted: unknown, oldest: unknown): AdmissionWindow {
  const oldestMs = Number(oldest);
  return { admitted: Number(admitted), oldestRoundMs: oldestMs < 0 ? null : oldestMs };
}

function queueState(status: unknown, position: unknown, expiresAt: unknown, now: unknown, window: AdmissionWindow, saleOpens?: unknown): QueueState {
  const expiresAtMs = Number(expiresAt);
  const place = Number(position);
  const opens = saleOpens === undefined || saleOpens === null ? -1 : Number(saleOpens);
  return {
    saleOpensMs: opens < 0 ? null : opens,
    status: status as QueueStatus,
    position: place < 0 ? null : place,
    expiresAtMs: expiresAtMs < 0 ? null : expiresAtMs,
    nowMs: Number(now),
    window,
  };
}

/**
 * The queue's Redis state: every change of a concert's queue goes through one atomic script on
 * that concert's keys (one hash slot). The set of concerts with a queue (what the admitter visits)
 * is kept beside it by single-key commands: added after every entry, removed after a round found
 * the queue empty and then checked again, so a concurrent entry is never forgotten.
 */
export class QueueStore {
  private readonly scripts: QueueScripts;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly idle: IdlePolicy = { idleMs: 0, reapMax: 0 },
  ) {
    this.scripts = defineQueueScripts(redis);
  }

  /**
   * Joins the back of the queue (or the pre-queue before saleOpensAt), or returns the user's live
   * entry unchanged; before queueOpensAt (Redis clock) nothing is written and `closed` is returned.
   */
  async enter(concertId: number, userId: string, freshNonce: string, rateWindowMs: number): Promise<EntryResult>;
  async enter(concertId: number, userId: string, freshNonce: string, rateWindowMs: number, windows: EntryWindows): Promise<EntryResult | ClosedEntry>;
  async enter(
    concertId: number,
    userId: string,
    freshNonce: string,
    rateWindowMs: number,
    windows: EntryWindows = { queueOpensMs: null, saleOpensMs: null },
  ): Promise<EntryResult | ClosedEntry> {
    const k = queueKeys(this.prefix, concertId);
    const reply = (await this.scripts.enter(
      k.seq, k.waiting, k.active, k.tokens, k.stats, k.pre, k.seen, k.opens, k.rate,
      userId, freshNonce, rateWindowMs, windows.queueOpensMs ?? -1, windows.saleOpensMs ?? -1,
    )) as unknown[];
    const [created, nonce, status, position, expiresAt, now, admitted, oldest, saleOpens] = reply;
    if (status === "CLOSED") return { closed: true, nowMs: Number(now) };
    // Also for an entry that existed: re-adds a concert whose first entry's SADD was lost (node died between).
    await this.redis.sadd(queueConcertsKey(this.prefix), concertId);
    return {
      ...queueState(status, position, expiresAt, now, admissionWindow(admitted, oldest), saleOpens),
      created: created === 1,
      nonce: String(nonce),
    };
  }

  /** Where the entry with `nonce` stands; EXPIRED if that nonce is not the user's current one. */
  async state(concertId: number, userId: string, nonce: string, rateWindowMs: number): Promise<QueueState> {
    const k = queueKeys(this.prefix, concertId);
    const reply = (await this.scripts.status(k.waiting, k.active, k.tokens, k.stats, k.pre, k.seen, k.opens, k.rate, userId, nonce, rateWindowMs)) as unknown[];
    const [status, position, expiresAt, now, admitted, oldest, saleOpens] = reply;
    return queueState(status, position, expiresAt, now, admissionWindow(admitted, oldest), saleOpens);
  }

  /** Removes the user's entry; with a nonce only if it is still the current one. */
  async remove(concertId: number, userId: string, nonce?: string): Promise<boolean> {
    const k = queueKeys(this.prefix, concertId);
    const leftTtlMs = this.idle.leftTtlMs ?? 3_600_000;
    return (await this.scripts.remove(k.waiting, k.active, k.tokens, k.pre, k.seen, k.ver, k.left, userId, nonce ?? "", k.events, leftTtlMs)) === 1;
  }

  /**
   * Keeps an ACTIVE user ACTIVE at least until `untilMs` (a live hold, SPEC §8): only raises the
   * expiry of a user who is active now; never admits anyone.
   */
  async extendActive(concertId: number, userId: string, untilMs: number): Promise<boolean> {
    const k = queueKeys(this.prefix, concertId);
    return (await this.redis.zadd(k.active, "XX", "GT", "CH", untilMs, userId)) === 1;
  }

  /**
   * One atomic admission round for one concert. `roundId` makes the round's stats record unique;
   * with `minElapsedMs` > 0 the round is skipped (ran: false) if the concert's last round is more
   * recent than that.
   */
  async admit(concertId: number, policy: AdmissionPolicy, roundId: string, minElapsedMs = 0, rates?: RoundRates): Promise<AdmissionRound> {
    const k = queueKeys(this.prefix, concertId);
    const intervalMs = rates?.admitIntervalMs ?? 1000;
    const reply = (await this.scripts.admit(
      k.waiting, k.active, k.tokens, k.stats, k.pre, k.seen, k.ver, k.rate,
      policy.batch, policy.activeMax, policy.activeTtlMs, policy.rateWindowMs, roundId, minElapsedMs,
      this.idle.idleMs, this.idle.reapMax, intervalMs, rates?.rateBatch ?? policy.batch, k.events,
    )) as number[];
    const [admitted, expired, waiting, active, now, total, oldest, ran, reaped, prePending, empty] = reply;
    if (empty === 1) await this.forgetIfEmpty(concertId);
    return {
      concertId, ran: ran === 1, admitted, expired, waiting, active, nowMs: now, window: admissionWindow(total, oldest),
      reaped, prePending: prePending === 1,
    };
  }

  /** Waiting, unexpired active and admitted in the last `windowMs` (Redis clock), in one read. */
  async overview(concertId: number, windowMs: number): Promise<{ waiting: number; active: number; admitted: number; nowMs: number }> {
    const k = queueKeys(this.prefix, concertId);
    const [waiting, active, admitted, nowMs] = (await this.scripts.overview(k.waiting, k.active, k.stats, k.pre, windowMs)) as number[];
    return { waiting, active, admitted, nowMs };
  }

  /**
   * Drops the concert from the admitter's set, then looks again: an entry that arrived meanwhile
   * either added the concert after the removal (kept) or wrote its entry before this look (re-added).
   */
  private async forgetIfEmpty(concertId: number): Promise<void> {
    const k = queueKeys(this.prefix, concertId);
    const concerts = queueConcertsKey(this.prefix);
    await this.redis.srem(concerts, concertId);
    if (Number(await this.scripts.occupancy(k.waiting, k.active, k.pre)) > 0) await this.redis.sadd(concerts, concertId);
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
