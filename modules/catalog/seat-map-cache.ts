/**
 * The catalog's read cache with versioned keys (SPEC invariant 6): every cached read (a seat map,
 * a concert's schedule list) has a version key and a data hash `{v, json}` in Redis.
 *
 * - A read is ONE round trip (the `catalogCacheRead` script): GET the version, then the data,
 *   which counts only if it was stored under that very version.
 * - A change replaces the version (`bumpVersions`) in the request that made it, after its commit
 *   and before its response. From then on every node's reads miss the old data, so the next read
 *   anywhere shows the change; nothing is deleted, nothing waits for a lock or another node.
 * - A fill stores only under the version it read BEFORE querying PostgreSQL, and only while that
 *   version is still current (`catalogCacheStore`): a fill that raced a change never becomes current.
 *
 * Versions are unique random tokens, not counters: a missing version key (Redis restarted, key
 * evicted or expired) is re-created as a token never used before, so an old data hash can never
 * match it again (an INCR would restart at 1 and could meet an old entry's number).
 *
 * Stampedes: concurrent misses of one key and version on one node share one query (SingleFlight);
 * across nodes each node may fill once per version (a few duplicate queries, no lock to wait for).
 */
import { randomBytes } from "node:crypto";
import type { SeatChange, VersionedKeys } from "./cache-keys";
import { versionsStaleAfter } from "./cache-keys";
import { SingleFlight } from "./single-flight";

/** Lifetime of a version key: only bounds memory (a version that expired just costs one miss). */
export const VERSION_TTL_S = 86_400;

/** The two ioredis calls the cache uses: a standalone `Redis` and a `Cluster` both have them. */
export interface CacheRedis {
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
  set(key: string, value: string, secondsToken: "EX", seconds: number | string): Promise<unknown>;
}

export type BumpRedis = Pick<CacheRedis, "set">;

export interface CacheLogger {
  warn(...args: unknown[]): void;
}

/** KEYS: version, data. ARGV: a fresh version for a missing key, its TTL. → {} never; {v} miss; {v, json} hit. */
const READ_LUA = `
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return {ARGV[1]}
end
local d = redis.call('HMGET', KEYS[2], 'v', 'json')
if d[1] == v then return {v, d[2]} end
return {v}`;

/** KEYS: version, data. ARGV: the version the fill read before its query, json, data TTL. → 1 stored, 0 outdated. */
const STORE_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'v', ARGV[1], 'json', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1`;

interface CacheCommands {
  catalogCacheRead(versionKey: string, dataKey: string, freshVersion: string, versionTtlS: number): Promise<[string, string?]>;
  catalogCacheStore(versionKey: string, dataKey: string, version: string, json: string, ttlS: number): Promise<number>;
}

type Lookup = { hit: true; version: string; value: unknown } | { hit: false; version: string };

// Unique across processes (72 random bits) and within one (a counter): a token is never reused.
const PROCESS_TAG = randomBytes(9).toString("base64url");
let versionCounter = 0;

export function newVersion(): string {
  return `${PROCESS_TAG}.${(++versionCounter).toString(36)}`;
}

function withScripts(redis: CacheRedis): CacheRedis & CacheCommands {
  const client = redis as CacheRedis & Partial<CacheCommands>;
  // ioredis sends EVALSHA and falls back to EVAL when Redis lost its script cache.
  if (typeof client.catalogCacheRead !== "function") client.defineCommand("catalogCacheRead", { lua: READ_LUA, numberOfKeys: 2 });
  if (typeof client.catalogCacheStore !== "function") client.defineCommand("catalogCacheStore", { lua: STORE_LUA, numberOfKeys: 2 });
  return client as CacheRedis & CacheCommands;
}

export class VersionedCache {
  private readonly redis: CacheRedis & CacheCommands;
  private readonly flights = new SingleFlight<unknown>();
  /** Read scripts not sent yet, by data key (see lookup). */
  private readonly batches = new Map<string, Promise<Lookup>>();

  constructor(
    redis: CacheRedis,
    private readonly ttlS: number,
    private readonly logger?: CacheLogger,
  ) {
    this.redis = withScripts(redis);
  }

  /** The cached answer of `keys`, or `load()`'s (stored under the version read before it ran). */
  async read<T>(keys: VersionedKeys, load: () => Promise<T>): Promise<T> {
    const found = await this.lookup(keys);
    if (found.hit) return found.value as T;
    return this.flights.run(`${keys.data}@${found.version}`, () => this.fill(keys, found.version, load)) as Promise<T>;
  }

  /**
   * The read script of `keys`, shared (with its JSON.parse) by every read of the key that starts
   * before the script is sent; the batch closes at the next tick, when it is sent. A read never
   * joins a script already sent: one sent before a change was bumped could answer the old state
   * to a reader who started after that change's 201 (invariant 6). A joined script goes out after
   * the joiner started, hence after any bump the joiner could have seen acknowledged.
   */
  private lookup(keys: VersionedKeys): Promise<Lookup> {
    const open = this.batches.get(keys.data);
    if (open) return open;
    const batch = new Promise<Lookup>((resolve, reject) => {
      process.nextTick(() => {
        this.batches.delete(keys.data);
        this.redis
          .catalogCacheRead(keys.version, keys.data, newVersion(), VERSION_TTL_S)
          .then(([version, json]): Lookup => (json == null ? { hit: false, version } : { hit: true, version, value: JSON.parse(json) }))
          .then(resolve, reject);
      });
    });
    this.batches.set(keys.data, batch);
    return batch;
  }

  /** How many fills are running on this node (tests). */
  get filling(): number {
    return this.flights.size;
  }

  private async fill<T>(keys: VersionedKeys, version: string, load: () => Promise<T>): Promise<T> {
    const value = await load();
    try {
      await this.redis.catalogCacheStore(keys.version, keys.data, version, JSON.stringify(value), this.ttlS);
    } catch (err) {
      // The answer is right; only the next reader pays another query.
      this.logger?.warn(`Could not store ${keys.data} in the cache`, err);
    }
    return value;
  }
}

/** Replaces the given versions: one write per key, sent together (auto-pipelined on one connection). */
export async function bumpVersions(redis: BumpRedis, versionKeys: readonly string[]): Promise<void> {
  await Promise.all(versionKeys.map((key) => redis.set(key, newVersion(), "EX", VERSION_TTL_S)));
}

/** The seat map and schedule list of every change, made stale at once; throws when Redis fails. */
export function bumpSeatChanges(redis: BumpRedis, prefix: string, changes: readonly SeatChange[]): Promise<void> {
  const keys = new Set(changes.flatMap((change) => versionsStaleAfter(prefix, change)));
  return bumpVersions(redis, [...keys]);
}

/**
 * bumpSeatChanges for a writer whose transaction has committed: a Redis failure is logged, not
 * thrown (the change is done; the cached reads then expire with their TTL, and payments and refunds
 * are bumped again by the catalog's durable Kafka consumer).
 */
export async function bumpAfterCommit(redis: BumpRedis, prefix: string, changes: readonly SeatChange[], logger: CacheLogger): Promise<void> {
  try {
    await bumpSeatChanges(redis, prefix, changes);
  } catch (err) {
    logger.warn("Seat-map cache version not bumped; cached reads stay until their TTL or the durable event", err);
  }
}
