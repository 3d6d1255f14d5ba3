/**
 * Redis key layout of the waiting queue, per concert (all under the configured REDIS_PREFIX). The
 * per-concert keys carry the hash tag {c<id>}: on a Redis Cluster they all live in one slot, so
 * every script of one concert (modules/queue/*-scripts.ts, pre-queue-open.ts) runs on one master,
 * and different concerts spread over the masters.
 *   queue:{c<id>}:seq      INCR counter: the entry order (decides FIFO; no clocks involved)
 *   queue:{c<id>}:waiting  ZSET userId -> entry sequence number
 *   queue:{c<id>}:active   ZSET userId -> admission expiry (ms since epoch, Redis server clock)
 *   queue:{c<id>}:tokens   HASH userId -> token nonce of the user's current entry
 *   queue:{c<id>}:stats    ZSET "<tickId>:<admitted>" -> tick time (ms): recent admissions, for the ETA
 *   queue:{c<id>}:rate     HASH total, oldest, at: the admission window as the last round counted it (read by entries and polls)
 *   queue:{c<id>}:pre      SET userIds in the pre-queue (entered before saleOpensAt; shuffled at the opening)
 *   queue:{c<id>}:opens    STRING saleOpensAt (ms) of the pre-queue, as the last pre-queue entry saw it
 *   queue:{c<id>}:placed   STRING how many pre-queue users the opening shuffle has placed so far
 *   queue:{c<id>}:shuffle  STRING holder node of the opening shuffle's lease
 *   queue:{c<id>}:seen     ZSET userId -> last seen (ms) of a waiting/pre-queue user (poll or open stream)
 *   queue:{c<id>}:left     HASH userId -> nonce of an entry its user left (DELETE /queue/me): a live hold no longer pays without ACTIVE
 *   queue:{c<id>}:ver      INCR counter: version of the position-changing events published on queue:{c<id>}:events
 * Cross-concert keys, only ever touched by single-key commands (never inside a concert's script):
 *   queue:concerts     SET of concert ids that have a queue (what the admitter visits)
 *   queue:admit-lease  STRING holder node: who runs the scheduled admission round right now
 */

/** The hash tag of one concert's queue keys (without braces). */
export function queueSlotTag(concertId: number): string {
  return `c${concertId}`;
}

export function queueKeys(prefix: string, concertId: number) {
  const base = `${prefix}queue:{${queueSlotTag(concertId)}}:`;
  return {
    seq: `${base}seq`,
    waiting: `${base}waiting`,
    active: `${base}active`,
    tokens: `${base}tokens`,
    stats: `${base}stats`,
    rate: `${base}rate`,
    pre: `${base}pre`,
    opens: `${base}opens`,
    placed: `${base}placed`,
    shuffleLease: `${base}shuffle`,
    seen: `${base}seen`,
    ver: `${base}ver`,
    left: `${base}left`,
    /** Pub/sub channel (not a key): admission rounds, leaves and the opening, for the streams. */
    events: `${base}events`,
  };
}

export function queueConcertsKey(prefix: string): string {
  return `${prefix}queue:concerts`;
}

export function queueAdmitLeaseKey(prefix: string): string {
  return `${prefix}queue:admit-lease`;
}
