import type { ServiceBroker } from "moleculer";
import Redis from "ioredis";
import CatalogService from "../../services/catalog.service";
import QueueService from "../../services/queue.service";
import { getConfig, resetConfig } from "../../lib/config";
import { catalogCacheKeys } from "../../modules/catalog/cache-keys";
import { createConcert, createSchedule } from "../../modules/catalog/catalog-writes";
import type { ScheduleAvailability, SeatView } from "../../modules/catalog/catalog-queries";
import { bumpSeatChanges } from "../../modules/catalog/seat-map-cache";
import type { OrmMethods } from "../../mixins/orm.mixin";
import type { RedisMethods } from "../../mixins/redis.mixin";
import { startNode, stopNodes } from "../support/nodes";
import { activeQueueToken } from "../support/queue";
import { SqlCounter } from "../support/sql-counter";

/**
 * The shared, versioned seat-map / schedule-list cache across two catalog nodes (real PostgreSQL,
 * Redis, NATS): hits cost no SQL and one Redis command, a version bump by the writer makes the
 * very next read on the other node show the change, a lost version key never revives old data.
 */
const SEAT_QUERY = /from seat where schedule_id/;
const SCHEDULES_QUERY = /from concert c/;

describe("catalog cache on two nodes", () => {
  let nodeA: ServiceBroker;
  let nodeB: ServiceBroker;
  let sql: SqlCounter;
  let redis: Redis;
  let prefix: string;
  const em = () => (nodeA.getLocalService("catalog") as unknown as OrmMethods).em();
  const viewer = { id: "cache-viewer", token: new Map<number, string>() };

  async function freshSchedule(): Promise<{ concertId: number; scheduleId: number }> {
    const concertId = await createConcert(em(), `Cache Test ${Math.random()}`, "Cache Hall");
    const scheduleId = await createSchedule(em(), concertId, new Date("2027-03-01T10:00:00Z"), 10);
    viewer.token.set(concertId, await activeQueueToken(nodeA, viewer.id, concertId));
    return { concertId, scheduleId };
  }

  async function setSeats(scheduleId: number, numbers: number[], status: string): Promise<number[]> {
    const rows = await em().execute<Array<{ id: number }>>(
      "update seat set status = ? where schedule_id = ? and number in (?) returning id",
      [status, scheduleId, numbers],
    );
    return rows.map((row) => row.id).sort((x, y) => x - y);
  }

  const seatMap = (node: ServiceBroker, concertId: number, scheduleId: number) =>
    node.call<SeatView[], object>("catalog.seatMap", { scheduleId }, { meta: { user: { id: viewer.id }, queueToken: viewer.token.get(concertId) } });
  const schedules = (node: ServiceBroker, concertId: number) =>
    node.call<ScheduleAvailability[], object>("catalog.listSchedules", { concertId });
  const statuses = (seats: SeatView[]) => seats.map((seat) => `${seat.number}:${seat.status}`);

  beforeAll(async () => {
    // Far longer than the test: only a version bump, never expiry, can explain a fresh read.
    process.env.SEAT_CACHE_TTL_S = "300";
    process.env.QUEUE_ADMIT_INTERVAL_MS = "3600000"; // admission only by explicit rounds
    resetConfig();
    nodeA = await startNode([CatalogService, QueueService], { nodeID: "catalog-a" });
    nodeB = await startNode([CatalogService], { nodeID: "catalog-b" });
    await nodeB.waitForServices(["queue"]);
    sql = new SqlCounter([nodeA, nodeB]);
    redis = new Redis(getConfig().redisUrl);
    prefix = getConfig().redisPrefix;
  });
  afterAll(async () => {
    sql?.stop();
    redis?.disconnect();
    await stopNodes(nodeA, nodeB);
  });
  beforeEach(() => sql.reset());
  afterEach(() => jest.restoreAllMocks());

  it("serves cache hits on both nodes without any SQL", async () => {
    const { concertId, scheduleId } = await freshSchedule();
    const seats = await seatMap(nodeA, concertId, scheduleId);
    const list = await schedules(nodeA, concertId);
    expect(sql.count(SEAT_QUERY)).toBe(1);
    expect(sql.count(SCHEDULES_QUERY)).toBe(1);
    await seatMap(nodeB, concertId, scheduleId); // node B's schedule directory learns the schedule
    sql.reset();
    for (const node of [nodeA, nodeB, nodeA, nodeB]) {
      expect(await seatMap(node, concertId, scheduleId)).toEqual(seats);
      expect(await schedules(node, concertId)).toEqual(list);
    }
    expect(sql.count()).toBe(0);
    expect(seats.map((seat) => seat.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it("a hit is ONE Redis command (the read script), no inner broker call", async () => {
    const { concertId } = await freshSchedule();
    await schedules(nodeB, concertId);
    const client = (nodeB.getLocalService("catalog") as unknown as RedisMethods).redis;
    const sent = jest.spyOn(client, "sendCommand");
    const calls = jest.spyOn(nodeB, "call");
    await schedules(nodeB, concertId);
    expect(sent.mock.calls.map(([command]) => command.name)).toEqual(["evalsha"]);
    expect(calls).toHaveBeenCalledTimes(1); // the test's own call only
  });

  it.each([
    ["a hold", "AVAILABLE", "HELD", 7],
    ["a release", "HELD", "AVAILABLE", 10],
    ["a payment", "HELD", "SOLD", 7],
    ["a refund", "SOLD", "AVAILABLE", 10],
  ])("after %s (seats %s -> %s) is bumped, the next read on the other node shows it", async (_change, before, after, availableAfter) => {
    const { concertId, scheduleId } = await freshSchedule();
    await setSeats(scheduleId, [1, 2, 3], before);
    // Cached by node A.
    const cachedSeats = await seatMap(nodeA, concertId, scheduleId);
    const cachedList = await schedules(nodeA, concertId);
    // The seats change in the database; until the bump, node B still answers the cached state.
    await setSeats(scheduleId, [1, 2, 3], after);
    expect(await seatMap(nodeB, concertId, scheduleId)).toEqual(cachedSeats);
    expect(await schedules(nodeB, concertId)).toEqual(cachedList);

    sql.reset();
    // What the writer does after its commit (reservations, payments), from a client of its own.
    await bumpSeatChanges(redis, prefix, [{ concertId, scheduleId }]);
    const seats = await seatMap(nodeB, concertId, scheduleId);
    expect(statuses(seats).slice(0, 4)).toEqual([`1:${after}`, `2:${after}`, `3:${after}`, "4:AVAILABLE"]);
    const [schedule] = await schedules(nodeB, concertId);
    expect(schedule).toMatchObject({ id: scheduleId, totalSeats: 10, availableSeats: availableAfter });
    expect(sql.count(SEAT_QUERY)).toBe(1);
    expect(sql.count(SCHEDULES_QUERY)).toBe(1);
    // And node A reads the new state from what node B stored.
    sql.reset();
    expect(await seatMap(nodeA, concertId, scheduleId)).toEqual(seats);
    expect(await schedules(nodeA, concertId)).toEqual([schedule]);
    expect(sql.count()).toBe(0);
  });

  it("a lost version key (evicted, Redis restarted) never brings an old entry back as current", async () => {
    const { concertId, scheduleId } = await freshSchedule();
    const keys = catalogCacheKeys.seatMap(prefix, scheduleId);
    expect(statuses(await seatMap(nodeA, concertId, scheduleId))[0]).toBe("1:AVAILABLE");
    const staleVersion = await redis.get(keys.version);
    expect(await redis.hget(keys.data, "v")).toBe(staleVersion);
    await setSeats(scheduleId, [1], "HELD");
    // The version key is gone, its data is not (what an LRU eviction of the version alone does).
    await redis.del(keys.version);
    expect(statuses(await seatMap(nodeB, concertId, scheduleId))[0]).toBe("1:HELD");
    const version = await redis.get(keys.version);
    expect(version).not.toBeNull();
    expect(version).not.toBe(staleVersion);
    expect(await redis.ttl(keys.version)).toBeGreaterThan(0);
    expect(await redis.hget(keys.data, "v")).toBe(version);
    expect(await redis.ttl(keys.data)).toBeGreaterThan(250); // SEAT_CACHE_TTL_S = 300
  });

  it("keeps nothing for an unknown concert (404 is not cached)", async () => {
    await expect(schedules(nodeA, 987_654)).rejects.toMatchObject({ type: "CONCERT_NOT_FOUND" });
    expect(await redis.exists(catalogCacheKeys.schedules(prefix, 987_654).data)).toBe(0);
  });

  it("200 concurrent cold reads of a schedule list on one node cost one query", async () => {
    const { concertId } = await freshSchedule();
    const results = await Promise.all(Array.from({ length: 200 }, () => schedules(nodeA, concertId)));
    expect(sql.count(SCHEDULES_QUERY)).toBe(1);
    for (const result of results) expect(result).toEqual(results[0]);
    expect(results[0]).toHaveLength(1);
    expect(results[0][0].availableSeats).toBe(10);
  });

  it("200 concurrent cold reads split over two nodes cost at most one query per node (no cross-node lock)", async () => {
    const { concertId, scheduleId } = await freshSchedule();
    await setSeats(scheduleId, [2], "SOLD");
    const nodes = [nodeA, nodeB];
    const [lists, maps] = await Promise.all([
      Promise.all(Array.from({ length: 200 }, (_, i) => schedules(nodes[i % 2], concertId))),
      Promise.all(Array.from({ length: 200 }, (_, i) => seatMap(nodes[i % 2], concertId, scheduleId))),
    ]);
    expect(sql.count(SCHEDULES_QUERY)).toBeGreaterThanOrEqual(1);
    expect(sql.count(SCHEDULES_QUERY)).toBeLessThanOrEqual(2);
    expect(sql.count(SEAT_QUERY)).toBeGreaterThanOrEqual(1);
    expect(sql.count(SEAT_QUERY)).toBeLessThanOrEqual(2);
    for (const list of lists) expect(list).toEqual([expect.objectContaining({ id: scheduleId, availableSeats: 9 })]);
    for (const map of maps) expect(statuses(map)[1]).toBe("2:SOLD");
  });

  it("a burst of 1500 cold reads on one node all succeed with one query", async () => {
    const { concertId } = await freshSchedule();
    const results = await Promise.allSettled(Array.from({ length: 1500 }, () => schedules(nodeA, concertId)));
    const failures = results.flatMap((result) => (result.status === "rejected" ? [String(result.reason?.message)] : []));
    expect(failures).toEqual([]);
    expect(sql.count(SCHEDULES_QUERY)).toBe(1);
  });

  it("has no cached inner actions any more (nothing to call around the guard)", () => {
    const actions = nodeA.registry.getActionList({ onlyLocal: true }).map((action) => action.name);
    expect(actions).toEqual(expect.arrayContaining(["catalog.seatMap", "catalog.listSchedules", "catalog.getSchedule"]));
    expect(actions).not.toContain("catalog.cachedSeatMap");
    expect(actions).not.toContain("catalog.cachedSchedules");
  });
});
