import type { Service, ServiceSchema } from "moleculer";
import Redis, { Cluster, type ClusterOptions, type RedisOptions } from "ioredis";
import { getConfig, type RedisNode } from "../lib/config";
import { acquireShared, releaseShared } from "../lib/shared-resource";

/** The system's Redis: one server, or a Redis Cluster when REDIS_CLUSTER_NODES is set. */
export type RedisClient = Redis | Cluster;

export interface RedisMethods {
  redis: RedisClient;
  /** The full Redis key for a name: every key carries the configured prefix. */
  redisKey(...parts: Array<string | number>): string;
}

const REDIS_RESOURCE = "ioredis";

/**
 * ioredis options for a redis:// or rediss:// URL that fail fast while Redis is down (SPEC §11):
 * reconnect attempts at most 500 ms apart, so a queued command is refused
 * (MaxRetriesPerRequestError → 503 "redis") within ~1 s, well inside an action's timeout, and a
 * restarted Redis is picked up within 0.5 s.
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

/**
 * ioredis Cluster options with the same fail-fast behaviour: the per-node connections get the
 * options above (credentials and TLS from REDIS_URL, 2 retries, 2 s connect timeout; a cluster
 * has no database number), the whole client reconnects like one server (clusterRetryStrategy),
 * and a command to a master that just went away (failover, CLUSTERDOWN) is retried every 50 ms
 * at most 16 times (~0.8 s) before it fails.
 */
export function clusterClientOptions(url = getConfig().redisUrl): ClusterOptions {
  const { host: _host, port: _port, db: _db, retryStrategy, ...node } = redisClientOptions(url);
  return {
    redisOptions: node,
    clusterRetryStrategy: retryStrategy,
    retryDelayOnFailover: 50,
    retryDelayOnClusterDown: 50,
    retryDelayOnTryAgain: 50,
    slotsRefreshTimeout: 1000,
  };
}

/** Queue commands only until the first connection is ready; later, while Redis is away, refuse
 * them at once ("Stream isn't writeable" / "Cluster isn't ready" → 503 "redis") instead of holding every request. */
function offlineQueueUntilReady(client: RedisClient): void {
  client.once("ready", () => {
    client.options.enableOfflineQueue = false;
  });
}

/** A client of the one Redis server at `url`, whatever REDIS_CLUSTER_NODES says (tests, bench). */
export function createRedisClient(url = getConfig().redisUrl): Redis {
  return createSystemRedis({ url, clusterNodes: [] }) as Redis;
}

export interface SystemRedisOptions {
  url?: string;
  /** Default: REDIS_CLUSTER_NODES; empty: one server at `url`. */
  clusterNodes?: readonly RedisNode[];
  /**
   * A pub/sub connection: subscribe commands wait for the reconnect rather than fail, and stay
   * queued while Redis is away (a subscriber can send nothing else).
   */
  subscriber?: boolean;
  connectionName?: string;
}

/**
 * The one factory of the system's Redis clients (services, rate limiter, queue streams, health):
 * an ioredis Cluster when cluster nodes are configured, else one server, with the same fail-fast
 * options either way (SPEC §11).
 */
export function createSystemRedis(options: SystemRedisOptions = {}): RedisClient {
  const config = getConfig();
  const url = options.url ?? config.redisUrl;
  const nodes = options.clusterNodes ?? config.redisClusterNodes;
  const perConnection: Partial<RedisOptions> = options.subscriber ? { maxRetriesPerRequest: null } : {};
  if (options.connectionName) perConnection.connectionName = options.connectionName;
  if (nodes.length === 0) {
    const client = new Redis({ ...redisClientOptions(url), enableAutoPipelining: !options.subscriber, ...perConnection });
    if (!options.subscriber) offlineQueueUntilReady(client);
    return client;
  }
  const base = clusterClientOptions(url);
  const cluster = new Cluster(
    nodes.map((node) => ({ host: node.host, port: node.port })),
    { ...base, redisOptions: { ...base.redisOptions, ...perConnection }, enableAutoPipelining: !options.subscriber },
  );
  if (!options.subscriber) offlineQueueUntilReady(cluster);
  return cluster;
}

/** Whether `client` is a Redis Cluster client (commands then go to the master of each key's slot). */
export function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
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
          const client = createSystemRedis();
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
