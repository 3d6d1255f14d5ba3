import type Redis from "ioredis";
import type { ServiceBroker } from "moleculer";
import { getConfig } from "./config";
import { createRedisClient } from "../mixins/redis.mixin";

/**
 * moleculer-web rate-limit store kept in Redis, so that every gateway node counts against the
 * same per-user (or per-IP) budget. A fixed window: one counter per key and window.
 */
export class RedisRateLimitStore {
  resetTime: number;
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(
    private readonly windowMs: number,
    _opts: unknown,
    _broker: ServiceBroker,
  ) {
    this.redis = createRedisClient();
    this.prefix = `${getConfig().redisPrefix}ratelimit:`;
    this.resetTime = this.windowEnd(Date.now());
  }

  private windowEnd(now: number): number {
    return (Math.floor(now / this.windowMs) + 1) * this.windowMs;
  }

  async inc(key: string): Promise<number> {
    const now = Date.now();
    const window = Math.floor(now / this.windowMs);
    this.resetTime = this.windowEnd(now);
    const redisKey = `${this.prefix}${key}:${window}`;
    try {
      const results = (await this.redis.multi().incr(redisKey).pexpire(redisKey, this.windowMs * 2).exec()) as Array<
        [Error | null, number]
      >;
      const [incError, count] = results[0];
      if (incError) throw incError;
      return count;
    } catch {
      // The limiter protects capacity; it must not take the API down with Redis: fail open.
      return 0;
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
