import Redis from "ioredis";
import { getConfig } from "../../lib/config";
import { createRedisClient } from "../../mixins/redis.mixin";
import { catalogCacheKeys, type VersionedKeys } from "../../modules/catalog/cache-keys";
import { bumpSeatChanges, bumpVersions, VersionedCache } from "../../modules/catalog/seat-map-cache";

/**
 * Fills that race a change (real Redis): a fill stores only under the version it read before its
 * query and only while that version is current, so what it read before a change never becomes
 * the current answer, whichever order the fill, the bump and other fills finish in.
 */
/** Resolves once `load` has been called: the read script has answered and the fill is "querying". */
async function started(load: jest.Mock): Promise<void> {
  for (let i = 0; load.mock.calls.length === 0; i++) {
    if (i > 500) throw new Error("the fill never started");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

describe("versioned cache: a fill that raced a change", () => {
  let redis: Redis;
  let cache: VersionedCache;
  let prefix: string;
  let n = 0;
  const warnings: unknown[][] = [];
  const logger = { warn: (...args: unknown[]) => warnings.push(args) };
  /** Keys of a schedule no other test uses. */
  const freshKeys = (): VersionedKeys => catalogCacheKeys.seatMap(prefix, 900_000 + ++n);

  beforeAll(() => {
    redis = createRedisClient(getConfig().redisUrl);
    prefix = getConfig().redisPrefix;
    cache = new VersionedCache(redis, 300, logger);
  });
  afterAll(() => redis.disconnect());

  it("answers its own callers but stores nothing current when a change came while it queried", async () => {
    const keys = freshKeys();
    const gate = deferred<string>();
    const query = jest.fn(() => gate.promise);
    const slowFill = cache.read(keys, query); // reads the version, then "queries"
    await started(query);
    const before = await redis.get(keys.version);
    await bumpVersions(redis, [keys.version]); // the change commits and bumps meanwhile
    gate.resolve("old state");
    await expect(slowFill).resolves.toBe("old state"); // asked before the change: old is a right answer
    expect(await redis.exists(keys.data)).toBe(0); // but it was not stored
    expect(await redis.get(keys.version)).not.toBe(before);
    const load = jest.fn(async () => "new state");
    await expect(cache.read(keys, load)).resolves.toBe("new state");
    expect(load).toHaveBeenCalledTimes(1);
    // And from now on that is the hit.
    await expect(cache.read(keys, async () => "never")).resolves.toBe("new state");
  });

  it("a late stale fill does not overwrite the fill that ran after the change", async () => {
    const keys = freshKeys();
    const gate = deferred<string>();
    const query = jest.fn(() => gate.promise);
    const stale = cache.read(keys, query);
    await started(query);
    await bumpVersions(redis, [keys.version]);
    // A read after the bump does not join the old fill (single-flight is keyed by version).
    await expect(cache.read(keys, async () => "new state")).resolves.toBe("new state");
    gate.resolve("old state");
    await stale;
    expect(await redis.hget(keys.data, "json")).toBe(JSON.stringify("new state"));
    await expect(cache.read(keys, async () => "never")).resolves.toBe("new state");
  });

  it("concurrent misses of one version on one node share one load", async () => {
    const keys = freshKeys();
    const gate = deferred<number[]>();
    const load = jest.fn(() => gate.promise);
    const reads = Array.from({ length: 100 }, () => cache.read(keys, load));
    // All 100 read scripts went out together, so every miss comes back before the fill can store.
    await started(load);
    expect(cache.filling).toBe(1);
    gate.resolve([1, 2, 3]);
    for (const value of await Promise.all(reads)) expect(value).toEqual([1, 2, 3]);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("a bump of a schedule's seat change replaces both its seat map's and its concert list's versions", async () => {
    const change = { concertId: 800_000 + ++n, scheduleId: 800_000 + ++n };
    const seatMap = catalogCacheKeys.seatMap(prefix, change.scheduleId);
    const list = catalogCacheKeys.schedules(prefix, change.concertId);
    await cache.read(seatMap, async () => "seats");
    await cache.read(list, async () => "list");
    const versions = await redis.mget(seatMap.version, list.version);
    await bumpSeatChanges(redis, prefix, [change, change]);
    const bumped = await redis.mget(seatMap.version, list.version);
    expect(bumped[0]).not.toBe(versions[0]);
    expect(bumped[1]).not.toBe(versions[1]);
    expect(await redis.ttl(seatMap.version)).toBeGreaterThan(3600);
    await expect(cache.read(seatMap, async () => "seats 2")).resolves.toBe("seats 2");
    await expect(cache.read(list, async () => "list 2")).resolves.toBe("list 2");
  });

  it("a fill whose store fails (Redis gone meanwhile) still answers, and logs", async () => {
    const client = createRedisClient(getConfig().redisUrl);
    await client.ping();
    const own = new VersionedCache(client, 300, logger);
    const keys = freshKeys();
    warnings.length = 0;
    await expect(
      own.read(keys, async () => {
        client.disconnect();
        return "answer";
      }),
    ).resolves.toBe("answer");
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0][0])).toContain(keys.data);
    expect(await redis.exists(keys.data)).toBe(0);
  });
});
