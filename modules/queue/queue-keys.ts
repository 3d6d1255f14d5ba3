/**
 * Redis key layout of the waiting queue, per concert (all under the configured REDIS_PREFIX):
 *   queue:{c}:seq      INCR counter: the entry order (decides FIFO; no clocks involved)
 *   queue:{c}:waiting  ZSET userId -> entry sequence number
 *   queue:{c}:active   ZSET userId -> admission expiry (ms since epoch, Redis server clock)
 *   queue:{c}:tokens   HASH userId -> token nonce of the user's current entry
 *   queue:{c}:stats    ZSET "<tickId>:<admitted>" -> tick time (ms): recent admissions, for the ETA
 *   queue:{c}:pre      SET userIds in the pre-queue (entered before saleOpensAt; shuffled at the opening)
 *   queue:{c}:opens    STRING saleOpensAt (ms) of the pre-queue, as the last pre-queue entry saw it
 *   queue:{c}:placed   STRING how many pre-queue users the opening shuffle has placed so far
 *   queue:{c}:shuffle  STRING holder node of the opening shuffle's lease
 *   queue:{c}:seen     ZSET userId -> last seen (ms) of a waiting/pre-queue user (poll or open stream)
 *   queue:{c}:left     HASH userId -> nonce of an entry its user left (DELETE /queue/me): a live hold no longer pays without ACTIVE
 *   queue:{c}:ver      INCR counter: version of the position-changing events published on queue:{c}:events
 *   queue:concerts     SET of concert ids that have a queue (what the admitter visits)
 *   queue:admit-lease  STRING holder node: who runs the scheduled admission round right now
 */
export function queueKeys(prefix: string, concertId: number) {
  const base = `${prefix}queue:${concertId}:`;
  return {
    seq: `${base}seq`,
    waiting: `${base}waiting`,
    active: `${base}active`,
    tokens: `${base}tokens`,
    stats: `${base}stats`,
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
