import type { ServiceBroker } from "moleculer";
import Redis from "ioredis";
import CatalogService from "../../services/catalog.service";
import { getConfig } from "../../lib/config";
import { catalogCacheKeys } from "../../modules/catalog/cache-keys";
import { createConcert, createSchedule } from "../../modules/catalog/catalog-writes";
import type { ScheduleAvailability } from "../../modules/catalog/catalog-queries";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { startNode, stopNodes } from "../support/nodes";

/**
 * The cacher's per-key fill lock never fails a read (SPEC §11): a filler that died holding the
 * lock (simulated by another node taking it and never letting go) makes readers wait ~1 s and
 * then read PostgreSQL, without storing what they read; once the lock is gone the cache fills again.
 */
describe("catalog reads when the cache fill lock is stuck", () => {
  let reader: ServiceBroker;
  let crashedFiller: ServiceBroker;
  let redis: Redis;
  const em = () => (reader.getLocalService("catalog") as unknown as OrmMethods).em();
  const cachedKey = (key: string) => `${(reader.cacher as unknown as { prefix: string }).prefix}${key}`;

  beforeAll(async () => {
    reader = await startNode([CatalogService], { nodeID: "lock-reader" });
    crashedFiller = await startNode([], { nodeID: "lock-crashed-filler" });
    redis = new Redis(getConfig().redisUrl);
  });
  afterAll(async () => {
    redis?.disconnect();
    await stopNodes(reader, crashedFiller);
  });

  it("answers from PostgreSQL within ~1 s instead of a LockError, and stores nothing while the lock is held", async () => {
    const concertId = await createConcert(em(), "Stuck Lock", "Hall");
    await createSchedule(em(), concertId, new Date("2027-05-01T10:00:00Z"), 6);
    const key = catalogCacheKeys.schedules(concertId);
    // The filler took the lock (lease 10 s) and died before storing or unlocking.
    const unlock = await crashedFiller.cacher!.lock(key, 10_000);

    const started = Date.now();
    const reads = await Promise.all(
      Array.from({ length: 5 }, () => reader.call<ScheduleAvailability[], object>("catalog.listSchedules", { concertId })),
    );
    const ms = Date.now() - started;
    for (const schedules of reads) expect(schedules).toEqual([expect.objectContaining({ concertId, totalSeats: 6, availableSeats: 6 })]);
    expect(ms).toBeGreaterThanOrEqual(500); // it did wait for the lock first
    expect(ms).toBeLessThan(2_500); // and not for the lock's 10 s lease
    expect(await redis.exists(cachedKey(key))).toBe(0);

    await unlock();
    const after = Date.now();
    await reader.call("catalog.listSchedules", { concertId });
    expect(Date.now() - after).toBeLessThan(500);
    expect(await redis.exists(cachedKey(key))).toBe(1);
  });

  it("a read-through does not leave `$cache: false` behind: the seat map of the same request is still cached", async () => {
    const concertId = await createConcert(em(), "Stuck Lock 2", "Hall");
    const scheduleId = await createSchedule(em(), concertId, new Date("2027-05-02T10:00:00Z"), 4);
    const unlock = await crashedFiller.cacher!.lock(catalogCacheKeys.schedule(scheduleId), 10_000);
    try {
      // seatMap's guard reads getSchedule (stuck lock → read-through), then the handler reads the seat map.
      const service = reader.getLocalService("catalog") as unknown as {
        cachedRead<T>(ctx: unknown, action: string, params: object, key: string): Promise<T>;
      };
      const ctx = (reader as unknown as { ContextFactory: { create(...args: unknown[]): any } }).ContextFactory.create(reader, null, {}, {});
      const schedule = await service.cachedRead<{ concertId: number }>(ctx, "catalog.getSchedule", { scheduleId }, catalogCacheKeys.schedule(scheduleId));
      expect(schedule.concertId).toBe(concertId);
      expect(ctx.meta.$cache).toBeUndefined();
      await service.cachedRead(ctx, "catalog.cachedSeatMap", { scheduleId }, catalogCacheKeys.seatMap(scheduleId));
      expect(await redis.exists(cachedKey(catalogCacheKeys.seatMap(scheduleId)))).toBe(1);
    } finally {
      await unlock();
    }
  });
});
