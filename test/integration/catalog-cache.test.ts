import type { ServiceBroker } from "moleculer";
import Redis from "ioredis";
import CatalogService from "../../services/catalog.service";
import { getConfig, resetConfig } from "../../lib/config";
import { catalogCacheKeys } from "../../modules/catalog/cache-keys";
import { createConcert, createSchedule } from "../../modules/catalog/catalog-writes";
import type { ScheduleAvailability, SeatView } from "../../modules/catalog/catalog-queries";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { startNode, stopNodes } from "../support/nodes";
import { SqlCounter } from "../support/sql-counter";

/**
 * The shared seat-map / schedule-list cache across two catalog nodes (real PostgreSQL, Redis,
 * NATS): hits cost no SQL, seat-change events invalidate for every node, cold bursts cost one query.
 */
const SEAT_QUERY = /from seat where schedule_id/;
const SCHEDULES_QUERY = /from concert c/;

describe("catalog cache on two nodes", () => {
  let nodeA: ServiceBroker;
  let nodeB: ServiceBroker;
  let emitter: ServiceBroker;
  let sql: SqlCounter;
  let redis: Redis;
  const em = () => (nodeA.getLocalService("catalog") as unknown as OrmMethods).em();

  async function freshSchedule(): Promise<{ concertId: number; scheduleId: number }> {
    const concertId = await createConcert(em(), `Cache Test ${Math.random()}`, "Cache Hall");
    const scheduleId = await createSchedule(em(), concertId, new Date("2027-03-01T10:00:00Z"), 10);
    return { concertId, scheduleId };
  }

  async function setSeats(scheduleId: number, numbers: number[], status: string): Promise<number[]> {
    const rows = await em().execute<Array<{ id: number }>>(
      "update seat set status = ? where schedule_id = ? and number in (?) returning id",
      [status, scheduleId, numbers],
    );
    return rows.map((row) => row.id).sort((x, y) => x - y);
  }

  const seatMap = (node: ServiceBroker, scheduleId: number) => node.call<SeatView[], object>("catalog.cachedSeatMap", { scheduleId });
  const schedules = (node: ServiceBroker, concertId: number) =>
    node.call<ScheduleAvailability[], object>("catalog.listSchedules", { concertId });
  const statuses = (seats: SeatView[]) => seats.map((seat) => `${seat.number}:${seat.status}`);

  const redisKey = (key: string) => `${(nodeA.cacher as unknown as { prefix: string }).prefix}${key}`;
  async function waitUntilUncached(key: string): Promise<void> {
    const deadline = Date.now() + 5_000;
    while ((await redis.exists(redisKey(key))) === 1) {
      if (Date.now() > deadline) throw new Error(`${key} is still cached`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Spies on both nodes' invalidation, to see that exactly one of them handles each event. */
  function invalidationSpies() {
    return [nodeA, nodeB].map((node) => jest.spyOn(node.getLocalService("catalog") as any, "invalidateSeatChange"));
  }

  beforeAll(async () => {
    // Far longer than the test: only an invalidation, never expiry, can explain a fresh read.
    process.env.SEAT_CACHE_TTL_S = "300";
    resetConfig();
    nodeA = await startNode([CatalogService], { nodeID: "catalog-a" });
    nodeB = await startNode([CatalogService], { nodeID: "catalog-b" });
    emitter = await startNode([], { nodeID: "reservations-stand-in" });
    for (const node of [nodeA, nodeB, emitter]) {
      await node.waitForServices([{ name: "catalog" }]);
      // Both catalog instances known everywhere, so balanced events can reach either.
      for (let i = 0; node.registry.getNodeList({ onlyAvailable: true, withServices: false }).length < 3; i++) {
        if (i > 300) throw new Error("nodes never saw each other");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    sql = new SqlCounter([nodeA, nodeB]);
    redis = new Redis(getConfig().redisUrl);
  });
  afterAll(async () => {
    sql?.stop();
    redis?.disconnect();
    await stopNodes(emitter, nodeA, nodeB);
  });
  beforeEach(() => sql.reset());
  afterEach(() => jest.restoreAllMocks());

  it("serves cache hits on both nodes without any SQL", async () => {
    const { concertId, scheduleId } = await freshSchedule();
    const seats = await seatMap(nodeA, scheduleId);
    const list = await schedules(nodeA, concertId);
    expect(sql.count(SEAT_QUERY)).toBe(1);
    expect(sql.count(SCHEDULES_QUERY)).toBe(1);
    sql.reset();
    for (const node of [nodeA, nodeB, nodeA, nodeB]) {
      expect(await seatMap(node, scheduleId)).toEqual(seats);
      expect(await schedules(node, concertId)).toEqual(list);
    }
    expect(sql.count()).toBe(0);
    expect(seats.map((seat) => seat.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it.each([
    ["reservation.held", "AVAILABLE", "HELD", 7, (p: object) => ({ ...p, userId: "u1", expiresAt: new Date().toISOString() })],
    ["reservation.released", "HELD", "AVAILABLE", 10, (p: object) => ({ ...p, userId: "u1", reason: "CANCELLED" })],
    [
      "payment.completed",
      "HELD",
      "SOLD",
      7,
      (p: object) => ({ ...p, eventId: "6f1c3c1e-9a43-4a35-9d4a-5f2b8c1f0a11", paymentId: 1, userId: "u1", amount: 1, paidAt: new Date().toISOString() }),
    ],
  ])(
    "%s (seats %s -> %s) invalidates the seat map and availableSeats for the second node too",
    async (event, before, after, availableAfter, payloadOf) => {
      const { concertId, scheduleId } = await freshSchedule();
      await setSeats(scheduleId, [1, 2, 3], before);
      // Cached on node A.
      const cachedSeats = await seatMap(nodeA, scheduleId);
      const cachedList = await schedules(nodeA, concertId);
      // The seats change in the database; the cache still answers the old state on node B.
      const seatIds = await setSeats(scheduleId, [1, 2, 3], after);
      expect(await seatMap(nodeB, scheduleId)).toEqual(cachedSeats);
      expect(await schedules(nodeB, concertId)).toEqual(cachedList);

      const spies = invalidationSpies();
      sql.reset();
      await emitter.emit(event, payloadOf({ reservationId: 1, concertId, scheduleId, seatIds }));
      await waitUntilUncached(catalogCacheKeys.seatMap(scheduleId));
      await waitUntilUncached(catalogCacheKeys.schedules(concertId));

      const seats = await seatMap(nodeB, scheduleId);
      expect(statuses(seats).slice(0, 4)).toEqual([`1:${after}`, `2:${after}`, `3:${after}`, "4:AVAILABLE"]);
      const [schedule] = await schedules(nodeB, concertId);
      expect(schedule).toMatchObject({ id: scheduleId, totalSeats: 10, availableSeats: availableAfter });
      expect(sql.count(SEAT_QUERY)).toBe(1);
      expect(sql.count(SCHEDULES_QUERY)).toBe(1);
      // Balanced event: exactly one catalog instance did the invalidation, for all nodes.
      expect(spies[0].mock.calls.length + spies[1].mock.calls.length).toBe(1);
      // And node A reads the new state from the cache node B filled.
      sql.reset();
      expect(await seatMap(nodeA, scheduleId)).toEqual(seats);
      expect(sql.count()).toBe(0);
    },
  );

  it("an invalidation handled on node A is seen by node B's next read", async () => {
    const { concertId, scheduleId } = await freshSchedule();
    await seatMap(nodeB, scheduleId);
    const seatIds = await setSeats(scheduleId, [5], "HELD");
    const spies = invalidationSpies();
    // Emitted on node A: Moleculer prefers the local catalog instance for a balanced event.
    await nodeA.emit("reservation.held", { reservationId: 2, userId: "u2", concertId, scheduleId, seatIds, expiresAt: new Date().toISOString() });
    await waitUntilUncached(catalogCacheKeys.seatMap(scheduleId));
    expect(statuses(await seatMap(nodeB, scheduleId))[4]).toBe("5:HELD");
    expect([spies[0].mock.calls.length, spies[1].mock.calls.length]).toEqual([1, 0]);
  });

  it("drops a stale value that a fill begun before the change stores after the first delete", async () => {
    const { concertId, scheduleId } = await freshSchedule();
    const key = catalogCacheKeys.seatMap(scheduleId);
    const staleSeats = await seatMap(nodeA, scheduleId);
    const cacher = nodeA.cacher!;
    // A fill that read the database before the hold committed: it holds the key's fill lock...
    const unlockFill = await cacher.lock(key, 10_000);
    const seatIds = await setSeats(scheduleId, [1], "HELD");
    await emitter.emit("reservation.held", { reservationId: 3, userId: "u3", concertId, scheduleId, seatIds, expiresAt: new Date().toISOString() });
    await waitUntilUncached(key);
    // ...and stores its old result only now, after the invalidation's first delete.
    await cacher.set(key, staleSeats);
    expect(await redis.exists(redisKey(key))).toBe(1);
    await unlockFill();
    // The invalidation deletes again once it holds the fill lock, so the stale value does not stay.
    await waitUntilUncached(key);
    expect(statuses(await seatMap(nodeB, scheduleId))[0]).toBe("1:HELD");
  });

  it("200 concurrent cold reads of a schedule list on one node cost one query", async () => {
    const { concertId } = await freshSchedule();
    const results = await Promise.all(Array.from({ length: 200 }, () => schedules(nodeA, concertId)));
    expect(sql.count(SCHEDULES_QUERY)).toBe(1);
    for (const result of results) expect(result).toEqual(results[0]);
    expect(results[0]).toHaveLength(1);
    expect(results[0][0].availableSeats).toBe(10);
  });

  it("200 concurrent cold reads split over two nodes cost one query (schedule list and seat map)", async () => {
    const { concertId, scheduleId } = await freshSchedule();
    await setSeats(scheduleId, [2], "SOLD");
    const nodes = [nodeA, nodeB];
    const [lists, maps] = await Promise.all([
      Promise.all(Array.from({ length: 200 }, (_, i) => schedules(nodes[i % 2], concertId))),
      // The inner cached action has no single-flight: this is the cacher's Redis lock alone.
      Promise.all(Array.from({ length: 200 }, (_, i) => seatMap(nodes[i % 2], scheduleId))),
    ]);
    expect(sql.count(SCHEDULES_QUERY)).toBe(1);
    expect(sql.count(SEAT_QUERY)).toBe(1);
    for (const list of lists) expect(list).toEqual([expect.objectContaining({ id: scheduleId, availableSeats: 9 })]);
    for (const map of maps) expect(statuses(map)[1]).toBe("2:SOLD");
  });

  it("a burst of 1500 cold reads on one node all succeed with one query (no lock-retry exhaustion)", async () => {
    const { concertId } = await freshSchedule();
    const results = await Promise.allSettled(Array.from({ length: 1500 }, () => schedules(nodeA, concertId)));
    const failures = results.flatMap((result) => (result.status === "rejected" ? [String(result.reason?.message)] : []));
    expect(failures).toEqual([]);
    expect(sql.count(SCHEDULES_QUERY)).toBe(1);
  });

  it("keeps the cached inner actions off the network (other nodes cannot call them)", async () => {
    const { scheduleId } = await freshSchedule();
    await expect(emitter.call("catalog.cachedSeatMap", { scheduleId })).rejects.toMatchObject({ name: "ServiceNotFoundError" });
    await expect(emitter.call("catalog.getSchedule", { scheduleId })).resolves.toMatchObject({ id: scheduleId });
  });
});
