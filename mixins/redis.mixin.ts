import type { Service, ServiceSchema } from "moleculer";
import Redis from "ioredis";
import { getConfig } from "../lib/config";
import { acquireShared, releaseShared } from "../lib/shared-resource";

export interface RedisMethods {
  redis: Redis;
  /** The full Redis key for a name: every key carries the configured prefix. */
  redisKey(...parts: Array<string | number>): string;
}

const REDIS_RESOURCE = "ioredis";

export function createRedisClient(url = getConfig().redisUrl): Redis {
  return new Redis(url, { maxRetriesPerRequest: 2, enableAutoPipelining: true, lazyConnect: false });
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
