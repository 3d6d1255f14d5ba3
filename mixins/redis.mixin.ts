import type { Service, ServiceSchema } from "moleculer";
import Redis, { type RedisOptions } from "ioredis";
import { getConfig } from "../lib/config";
import { acquireShared, releaseShared } from "../lib/shared-resource";

export interface RedisMethods {
  redis: Redis;
  /** The full Redis key for a name: every key carries the configured prefix. */
  redisKey(...parts: Array<string | number>): string;
}

const REDIS_RESOURCE = "ioredis";

/**
 * ioredis options for a redis:// or rediss:// URL that fail fast while Redis is down (SPEC §11):
 * reconnect attempts at most 500 ms apart, so a queued command is refused
 * (MaxRetriesPerRequestError → 503 "redis") within ~1 s, well inside an action's timeout, and a
 * restarted Redis is picked up within 0.5 s. Also used for the broker's Redis cacher.
 */
export function redisClientOptions(url = getConfig().redisUrl): RedisOptions {
  const parsed = new URL(url);
  const db = Number(parsed.pathname.replace(/^\//, "")) || 0;
  return {
    host: parsed.hostname || "127.0.0.1",
    port: Number(parsed.port) || 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db,
    tls: parsed.protocol === "rediss:" ? {} : undefined,
    maxRetriesPerRequest: 2,
    retryStrategy: (times: number) => Math.min(times * 50, 500),
    connectTimeout: 2000,
  };
}

export function createRedisClient(url = getConfig().redisUrl): Redis {
  const client = new Redis({ ...redisClientOptions(url), enableAutoPipelining: true, lazyConnect: false });
  // Queue commands only until the first connection is ready; later, while Redis is away, refuse
  // them at once ("Stream isn't writeable" → 503 "redis") instead of holding every request.
  client.once("ready", () => {
    client.options.enableOfflineQueue = false;
  });
  return client;
}

/** Gives a service the broker's shared ioredis client, opened on start and closed on stop. */
export function RedisMixin(): Partial<ServiceSchema> {
  return {
    methods: {
      redisKey(...parts: Array<string | number>): string {
        return getConfig().redisPrefix + parts.join(":");
      },
    },
    async started(this: Service) {
      const self = this as Service & RedisMethods;
      self.redis = await acquireShared(
        this.broker,
        REDIS_RESOURCE,
        async () => {
          const client = createRedisClient();
          await client.ping();
          return client;
        },
        async (client) => {
          await client.quit().catch(() => client.disconnect());
        },
      );
    },
    async stopped(this: Service) {
      await releaseShared(this.broker, REDIS_RESOURCE);
    },
  };
}
