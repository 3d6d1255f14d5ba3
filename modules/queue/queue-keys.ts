/**
 * Redis key layout of the waiting queue, per concert (all under the configured REDIS_PREFIX):
 *   queue:{c}:seq      INCR counter: the entry order (decides FIFO; no clocks involved)
 *   queue:{c}:waiting  ZSET userId -> entry sequence number
 *   queue:{c}:active   ZSET userId -> admission expiry (ms since epoch, Redis server clock)
 *   queue:{c}:tokens   HASH userId -> token nonce of the user's current entry
 *   queue:{c}:stats    ZSET "<tickId>:<admitted>" -> tick time (ms): recent admissions, for the ETA
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
  };
}

export function queueConcertsKey(prefix: string): string {
  return `${prefix}queue:concerts`;
}

export function queueAdmitLeaseKey(prefix: string): string {
  return `${prefix}queue:admit-lease`;
}
