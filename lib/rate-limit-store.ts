import type { IncomingMessage, ServerResponse } from "node:http";
import type { ServiceBroker } from "moleculer";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { getConfig } from "./config";
import { clientIp, type TrustFn } from "./client-ip";
import { requestAuth } from "./request-auth";
import { createSystemRedis, type RedisClient } from "../mixins/redis.mixin";

/** Actions with their own, stricter budget: minting tokens, joining a queue, paying. */
export const STRICT_ACTIONS: ReadonlySet<string> = new Set(["auth.devToken", "queue.enter", "payments.create"]);

/**
 * What the route's `key` hands to the store. moleculer-web only checks that the key is truthy and
 * passes it to `store.inc`, so it can carry the request: the store then writes exact headers for
 * this request (the store's single `resetTime` would race between concurrent requests).
 */
export interface RateLimitSubject {
  key: string;
  strict: boolean;
  req: IncomingMessage;
}

type GatewayRequest = IncomingMessage & { $alias?: { action?: string }; $ctx?: { params?: { res?: ServerResponse } } };

/** The route's `key`: per user when the bearer verified (once, by the auth middleware), else per client IP. */
export function rateLimitKey(trust: TrustFn) {
  return (req: IncomingMessage): RateLimitSubject => {
    const user = requestAuth(req).user;
    const action = (req as GatewayRequest).$alias?.action;
    return { key: user ? `user:${user.id}` : `ip:${clientIp(req, trust)}`, strict: action !== undefined && STRICT_ACTIONS.has(action), req };
  };
}

export interface RateLimitOptions {
  limit: number;
  /** Budget of STRICT_ACTIONS; capped at `limit`. */
  strictLimit?: number;
  /** Default: the configured REDIS_URL (or REDIS_CLUSTER_NODES) / REDIS_PREFIX. */
  redisUrl?: string;
  redisPrefix?: string;
}

interface Decision {
  allowed: boolean;
  limit: number;
  remaining: number;
  msBeforeNext: number;
}

/**
 * moleculer-web rate-limit store on rate-limiter-flexible: one budget per key kept in Redis (atomic
 * Lua increment), so every gateway node counts against the same budget. While Redis is not ready
 * each node falls back to an in-memory limiter with the same budget (`insuranceLimiter`): limits
 * then hold per node instead of per cluster, but never vanish.
 */
export class RedisRateLimitStore {
  /** Read by moleculer-web only with `headers: true`; this store writes the headers itself. */
  resetTime: number;
  private readonly redis: RedisClient;
  private readonly general: RateLimiterRedis;
  private readonly strict: RateLimiterRedis;
  private readonly limit: number;
  private readonly strictLimit: number;

  constructor(windowMs: number, opts: RateLimitOptions, _broker?: ServiceBroker) {
    // Each budget is one key (a single-key script): fine on a Redis Cluster as it is.
    this.redis = createSystemRedis({ url: opts.redisUrl });
    // While Redis is down the insurance limiter answers; the connection errors are expected.
    this.redis.on("error", () => undefined);
    this.limit = opts.limit;
    this.strictLimit = Math.min(opts.strictLimit ?? opts.limit, opts.limit);
    const prefix = `${opts.redisPrefix ?? getConfig().redisPrefix}ratelimit`;
    const duration = Math.max(1, Math.round(windowMs / 1000));
    const limiter = (name: string, points: number) =>
      new RateLimiterRedis({
        storeClient: this.redis,
        keyPrefix: `${prefix}:${name}`,
        points,
        duration,
        rejectIfRedisNotReady: true,
        // A key over its budget is then refused from memory until its window ends: a flood costs no Redis calls.
        inMemoryBlockOnConsumed: points + 1,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix: `${prefix}:${name}`, points, duration }),
      });
    this.general = limiter("all", this.limit);
    this.strict = limiter("strict", this.strictLimit);
    this.resetTime = Date.now() + windowMs;
  }

  /**
   * Counts one request; returns what moleculer-web compares with the route's `limit`: over it
   * (limit + 1) when refused, 0 otherwise. A strict action spends from both budgets.
   */
  async inc(subject: RateLimitSubject | string): Promise<number> {
    const { key, strict, req } = typeof subject === "string" ? { key: subject, strict: false, req: undefined } : subject;
    let decision = await this.consume(this.general, key, this.limit);
    if (decision.allowed && strict) decision = await this.consume(this.strict, key, this.strictLimit);
    this.resetTime = Date.now() + decision.msBeforeNext;
    const res = (req as GatewayRequest | undefined)?.$ctx?.params?.res;
    if (res && !res.headersSent) writeHeaders(res, decision);
    return decision.allowed ? 0 : this.limit + 1;
  }

  private async consume(limiter: RateLimiterRedis, key: string, limit: number): Promise<Decision> {
    try {
      const result = await limiter.consume(key);
      return { allowed: true, limit, remaining: result.remainingPoints, msBeforeNext: result.msBeforeNext };
    } catch (err) {
      if (err instanceof RateLimiterRes) return { allowed: false, limit, remaining: 0, msBeforeNext: err.msBeforeNext };
      // Only a failing insurance limiter gets here (it is in memory): count nothing rather than refuse everyone.
      return { allowed: true, limit, remaining: limit, msBeforeNext: 0 };
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

function writeHeaders(res: ServerResponse, decision: Decision): void {
  res.setHeader("X-Rate-Limit-Limit", decision.limit);
  res.setHeader("X-Rate-Limit-Remaining", Math.max(0, decision.remaining));
  res.setHeader("X-Rate-Limit-Reset", Date.now() + decision.msBeforeNext);
  if (!decision.allowed) res.setHeader("Retry-After", Math.max(1, Math.ceil(decision.msBeforeNext / 1000)));
}
