/**
 * The admission window that entries and polls report (for the ETA) comes from what the last round
 * counted, while that is under a second old, and is counted afresh from the rounds otherwise (real
 * Redis, the queue's own scripts).
 */
import type Redis from "ioredis";
import { getConfig } from "../../lib/config";
import { createRedisClient } from "../../mixins/redis.mixin";
import { queueKeys } from "../../modules/queue/queue-keys";
import { newNonce } from "../../modules/queue/queue-token";
import { QueueStore, type AdmissionPolicy } from "../../modules/queue/queue-store";

const WINDOW_MS = 60_000;
const policy: AdmissionPolicy = { batch: 2, activeMax: 100, activeTtlMs: 60_000, rateWindowMs: WINDOW_MS };

describe("queue admission window: counted once per round, read in O(1)", () => {
  let redis: Redis;
  let store: QueueStore;
  const prefix = getConfig().redisPrefix;
  const concertId = 4242;
  const keys = queueKeys(prefix, concertId);

  beforeAll(async () => {
    redis = createRedisClient();
    store = new QueueStore(redis, prefix);
    for (let i = 0; i < 6; i++) await store.enter(concertId, `w${i}`, newNonce(), WINDOW_MS);
  });
  afterAll(async () => {
    const found = await redis.keys(`${prefix}queue:*`);
    if (found.length) await redis.del(...found);
    redis.disconnect();
  });

  it("reports the rounds' admissions right after each round, and what the rounds hold once the summary is stale", async () => {
    await store.admit(concertId, policy, "r1");
    await store.admit(concertId, policy, "r2");
    const fresh = await store.enter(concertId, "late", newNonce(), WINDOW_MS);
    expect(fresh.window.admitted).toBe(4);
    expect(fresh.window.oldestRoundMs).not.toBeNull();
    const summary = await redis.hgetall(keys.rate);
    expect(Number(summary.total)).toBe(4);

    // A summary under a second old is what entries and polls read: they do not scan the rounds.
    await redis.hset(keys.rate, "total", 999);
    expect((await store.enter(concertId, "late", newNonce(), WINDOW_MS)).window.admitted).toBe(999);
    // Older than a second (no round since): counted afresh from the rounds themselves.
    await redis.hset(keys.rate, "at", Date.now() - 5_000);
    expect((await store.enter(concertId, "late", newNonce(), WINDOW_MS)).window.admitted).toBe(4);
    // Gone (evicted, expired): counted afresh too; the next round writes it again.
    await redis.del(keys.rate);
    expect((await store.enter(concertId, "late", newNonce(), WINDOW_MS)).window.admitted).toBe(4);
    await store.admit(concertId, policy, "r3");
    expect(Number((await redis.hgetall(keys.rate)).total)).toBe(6);
    expect(await redis.pttl(keys.rate)).toBeGreaterThan(WINDOW_MS);
  });
});
