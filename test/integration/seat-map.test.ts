import type { ServiceBroker } from "moleculer";
import Redis from "ioredis";
import ApiService from "../../services/api.service";
import AuthService from "../../services/auth.service";
import CatalogService from "../../services/catalog.service";
import QueueService from "../../services/queue.service";
import { getConfig, resetConfig } from "../../lib/config";
import { catalogCacheKeys } from "../../modules/catalog/cache-keys";
import { createConcert, createSchedule } from "../../modules/catalog/catalog-writes";
import { seatPrice } from "../../modules/catalog/seat-pricing";
import { bumpSeatChanges } from "../../modules/catalog/seat-map-cache";
import { newNonce, signQueueToken } from "../../modules/queue/queue-token";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { devToken, request } from "../support/http";
import { activeQueueToken } from "../support/queue";
import { SqlCounter } from "../support/sql-counter";

/** GET /api/schedules/:scheduleId/seats: the guarded, cached seat map (real PostgreSQL, Redis, NATS). */
const SEAT_QUERY = /from seat where schedule_id/;
const SCHEDULE_QUERY = /from "schedule" as "s0" where "s0"\."id"/;

describe("seat map", () => {
  let node: ServiceBroker;
  let secondNode: ServiceBroker;
  let base: string;
  let sql: SqlCounter;
  let redis: Redis;
  let concertId: number;
  let otherConcertId: number;
  let scheduleId: number;
  let otherScheduleId: number;
  let alice: { bearer: string; queueToken: string };
  const em = () => (node.getLocalService("catalog") as unknown as OrmMethods).em();
  const seatsUrl = (id: number | string) => `${base}/schedules/${id}/seats`;
  /** Whether a seat map is stored in the shared cache (its data hash). */
  const cached = (id: number) => redis.exists(catalogCacheKeys.seatMap(getConfig().redisPrefix, id).data);

  async function scheduleFor(concert: number, seats = 10): Promise<number> {
    return createSchedule(em(), concert, new Date("2027-05-05T10:00:00Z"), seats);
  }

  beforeAll(async () => {
    // Admission only when a test asks for it (activeQueueToken runs the rounds itself).
    process.env.QUEUE_ADMIT_INTERVAL_MS = "3600000";
    process.env.SEAT_CACHE_TTL_S = "300";
    resetConfig();
    node = await startNode([ApiService, AuthService, CatalogService, QueueService], { nodeID: "gateway-node" });
    secondNode = await startNode([CatalogService], { nodeID: "catalog-only-node" });
    base = apiUrl(node);
    await waitForApiAliases(node, ["catalog.seatMap", "queue.enter", "auth.devToken"]);
    await secondNode.waitForServices(["queue"]);
    sql = new SqlCounter([node, secondNode]);
    redis = new Redis(getConfig().redisUrl);

    concertId = await createConcert(em(), "Seat Map Test", "Hall A");
    otherConcertId = await createConcert(em(), "Other Concert", "Hall B");
    scheduleId = await scheduleFor(concertId);
    otherScheduleId = await scheduleFor(otherConcertId);
    await em().execute("update seat set status = 'HELD' where schedule_id = ? and number = 2", [scheduleId]);
    await em().execute("update seat set status = 'SOLD' where schedule_id = ? and number = 3", [scheduleId]);
    alice = { bearer: await devToken(base, "alice"), queueToken: await activeQueueToken(node, "alice", concertId) };
  });
  afterAll(async () => {
    sql?.stop();
    redis?.disconnect();
    await stopNodes(secondNode, node);
  });
  beforeEach(() => sql.reset());

  it("answers the seats ordered by number with price and status, for an ACTIVE token of that concert", async () => {
    const response = await request("GET", seatsUrl(scheduleId), { token: alice.bearer, queueToken: alice.queueToken });
    expect(response.status).toBe(200);
    const seats = response.body as Array<{ id: number; section: string; row: string; number: number; price: number; status: string }>;
    expect(seats.map((seat) => seat.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(seats.map((seat) => seat.status)).toEqual(["AVAILABLE", "HELD", "SOLD", ...Array(7).fill("AVAILABLE")]);
    for (const seat of seats) {
      expect(Object.keys(seat).sort()).toEqual(["id", "number", "price", "row", "section", "status"]);
      expect([seat.section, seat.row]).toEqual(["A", "1"]);
      expect(seat.price).toBe(seatPrice(seat.number));
    }
    const [{ count }] = await em().execute<Array<{ count: number }>>(
      "select count(*)::int as count from seat where schedule_id = ? and id in (?)",
      [scheduleId, seats.map((seat) => seat.id)],
    );
    expect(count).toBe(10);
  });

  it("serves a cache hit without any SQL, the queue guard included", async () => {
    await request("GET", seatsUrl(scheduleId), { token: alice.bearer, queueToken: alice.queueToken });
    sql.reset();
    for (let i = 0; i < 3; i++) {
      const response = await request("GET", seatsUrl(scheduleId), { token: alice.bearer, queueToken: alice.queueToken });
      expect(response.status).toBe(200);
      expect(response.body).toHaveLength(10);
    }
    expect(sql.count()).toBe(0);
  });

  it("answers 401 UNAUTHORIZED without a bearer token", async () => {
    const response = await request("GET", seatsUrl(scheduleId), { queueToken: alice.queueToken });
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ code: 401, type: "UNAUTHORIZED" });
  });

  it("never serves the cached seat map to a caller without an ACTIVE token", async () => {
    const filled = await request("GET", seatsUrl(scheduleId), { token: alice.bearer, queueToken: alice.queueToken });
    expect(filled.status).toBe(200);
    expect(await cached(scheduleId)).toBe(1);
    const dave = await devToken(base, "dave");
    const noToken = await request("GET", seatsUrl(scheduleId), { token: dave });
    expect(noToken.status).toBe(403);
    expect(noToken.body).toMatchObject({ code: 403, type: "QUEUE_NOT_ACTIVE" });
    // Someone else's ACTIVE token does not work either.
    const borrowed = await request("GET", seatsUrl(scheduleId), { token: dave, queueToken: alice.queueToken });
    expect(borrowed.status).toBe(401);
    expect(borrowed.body).toMatchObject({ code: 401, type: "QUEUE_TOKEN_INVALID" });
    // Nor does a call on the broker that bypasses the gateway.
    await expect(node.call("catalog.seatMap", { scheduleId }, { meta: { user: { id: "dave" } } })).rejects.toMatchObject({
      code: 403,
      type: "QUEUE_NOT_ACTIVE",
    });
  });

  it("answers 403 QUEUE_NOT_ACTIVE for a genuine token that is still WAITING", async () => {
    const bob = await devToken(base, "bob");
    const entered = await request("POST", `${base}/concerts/${concertId}/queue`, { token: bob });
    expect(entered.status).toBe(201);
    expect(entered.body.status).toBe("WAITING");
    const response = await request("GET", seatsUrl(scheduleId), { token: bob, queueToken: entered.body.token });
    expect(response.status).toBe(403);
    expect(response.body).toMatchObject({ code: 403, type: "QUEUE_NOT_ACTIVE" });
  });

  it("answers 401 QUEUE_TOKEN_INVALID for a forged token or one of another concert", async () => {
    const forged = signQueueToken({ userId: "alice", concertId, nonce: newNonce() }, "not-the-queue-secret");
    for (const queueToken of [forged, "garbage", `${alice.queueToken}x`]) {
      const response = await request("GET", seatsUrl(scheduleId), { token: alice.bearer, queueToken });
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({ code: 401, type: "QUEUE_TOKEN_INVALID" });
    }
    // Alice is ACTIVE for concertId only: a schedule of another concert needs that concert's token.
    const elsewhere = await request("GET", seatsUrl(otherScheduleId), { token: alice.bearer, queueToken: alice.queueToken });
    expect(elsewhere.status).toBe(401);
    expect(elsewhere.body).toMatchObject({ code: 401, type: "QUEUE_TOKEN_INVALID" });
  });

  it("answers 404 SCHEDULE_NOT_FOUND for an unknown schedule", async () => {
    const response = await request("GET", seatsUrl(987654), { token: alice.bearer, queueToken: alice.queueToken });
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ code: 404, type: "SCHEDULE_NOT_FOUND" });
    expect(await cached(987654)).toBe(0);
  });

  it.each(["abc", "1.5", "-1", "0"])("answers 422 for schedule id %p without touching the database", async (badId) => {
    const response = await request("GET", seatsUrl(badId), { token: alice.bearer, queueToken: alice.queueToken });
    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
    expect(response.body.data[0]).toMatchObject({ field: "scheduleId" });
    expect(sql.count()).toBe(0);
  });

  it("shows a hold on the very next read once its writer bumped the version, through the guarded endpoint", async () => {
    const freshSchedule = await scheduleFor(concertId);
    const before = await request("GET", seatsUrl(freshSchedule), { token: alice.bearer, queueToken: alice.queueToken });
    expect(before.body[4].status).toBe("AVAILABLE");
    const [{ id: seatId }] = await em().execute<Array<{ id: number }>>(
      "update seat set status = 'HELD' where schedule_id = ? and number = 5 returning id",
      [freshSchedule],
    );
    // What the reservations service does after its commit, before its 201.
    await bumpSeatChanges(redis, getConfig().redisPrefix, [{ concertId, scheduleId: freshSchedule }]);
    const after = await request("GET", seatsUrl(freshSchedule), { token: alice.bearer, queueToken: alice.queueToken });
    expect(after.body[4]).toMatchObject({ id: seatId, number: 5, status: "HELD" });
  });

  it("200 concurrent cold reads of a seat map cost one seat query and one schedule query (one node)", async () => {
    const cold = await scheduleFor(concertId);
    const meta = { user: { id: "alice" }, queueToken: alice.queueToken };
    const results = await Promise.all(Array.from({ length: 200 }, () => node.call<unknown[], object>("catalog.seatMap", { scheduleId: cold }, { meta })));
    expect(sql.count(SEAT_QUERY)).toBe(1);
    expect(sql.count(SCHEDULE_QUERY)).toBe(1);
    for (const result of results) expect(result).toEqual(results[0]);
    expect(results[0]).toHaveLength(10);
  });

  it("200 concurrent cold reads split over two nodes cost at most one seat query and one schedule query per node", async () => {
    const cold = await scheduleFor(concertId);
    const meta = { user: { id: "alice" }, queueToken: alice.queueToken };
    const nodes = [node, secondNode];
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => nodes[i % 2].call<unknown[], object>("catalog.seatMap", { scheduleId: cold }, { meta })),
    );
    // No lock across nodes: each node may fill once (its schedule directory is its own).
    expect(sql.count(SEAT_QUERY)).toBeGreaterThanOrEqual(1);
    expect(sql.count(SEAT_QUERY)).toBeLessThanOrEqual(2);
    expect(sql.count(SCHEDULE_QUERY)).toBe(2);
    for (const result of results) expect(result).toEqual(results[0]);
  });
});
