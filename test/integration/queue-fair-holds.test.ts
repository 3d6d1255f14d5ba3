/**
 * SPEC §8 "ACTIVE lasts while it is used" and "fair holds", through the gateway (real PostgreSQL,
 * Redis, NATS): a hold keeps its buyer ACTIVE past QUEUE_ACTIVE_TTL_S, paying a live hold never
 * gets 403 (also after the queue's Redis state is gone), and RESERVATION_MAX_SEATS_PER_USER holds
 * under 20 parallel holds of one user.
 */
import type Redis from "ioredis";
import type { ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import { createRedisClient } from "../../mixins/redis.mixin";
import ApiService from "../../services/api.service";
import AuthService from "../../services/auth.service";
import CatalogService from "../../services/catalog.service";
import QueueService from "../../services/queue.service";
import ReservationsService from "../../services/reservations.service";
import PointsService from "../../services/points.service";
import PaymentsService from "../../services/payments.service";
import { createConcert, createSchedule } from "../../modules/catalog/catalog-writes";
import { queueKeys } from "../../modules/queue/queue-keys";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { devToken, request } from "../support/http";
import { activeQueueToken } from "../support/queue";
import { eventually } from "../support/queue-redis";
import { ormOf } from "../support/reservations";

const ACTIVE_TTL_S = 2;

describe("ACTIVE while used, and the hold cap", () => {
  let node: ServiceBroker;
  let base: string;
  let redis: Redis;
  let concertId: number;
  let scheduleId: number;
  let seats: number[];
  let next = 0;
  const takeSeats = (n: number) => seats.slice(next, (next += n));

  async function buyer(userId: string) {
    const token = await devToken(base, userId);
    const queueToken = await activeQueueToken(node, userId, concertId);
    return { userId, token, queueToken };
  }
  const hold = (who: { token: string; queueToken: string }, seatIds: number[]) =>
    request("POST", `${base}/reservations`, { token: who.token, queueToken: who.queueToken, json: { scheduleId, seatIds } });
  const pay = (who: { token: string; queueToken: string }, reservationId: number, key: string) =>
    request("POST", `${base}/payments`, { token: who.token, queueToken: who.queueToken, idempotencyKey: key, json: { reservationId } });
  const charge = (who: { token: string }) => request("POST", `${base}/points/charge`, { token: who.token, json: { amount: 5_000_000 } });
  const liveSeats = async (userId: string) => {
    const [row] = await ormOf(node).execute<Array<{ n: string }>>(
      `select count(*) as n from reservation_seat rs join reservation r on r.id = rs.reservation_id
        where r.user_id = ? and r.schedule_id = ? and r.status in ('HELD', 'CONFIRMED')`,
      [userId, scheduleId],
    );
    return Number(row.n);
  };

  beforeAll(async () => {
    Object.assign(process.env, {
      QUEUE_ADMIT_INTERVAL_MS: "3600000",
      QUEUE_ACTIVE_TTL_S: String(ACTIVE_TTL_S),
      RESERVATION_MAX_SEATS_PER_USER: "4",
    });
    resetConfig();
    node = await startNode([ApiService, AuthService, CatalogService, QueueService, ReservationsService, PointsService, PaymentsService]);
    base = apiUrl(node);
    await waitForApiAliases(node, ["auth.devToken", "reservations.create", "payments.create", "points.charge", "queue.status"]);
    const em = ormOf(node);
    concertId = await createConcert(em, "Fair holds", "Hall");
    scheduleId = await createSchedule(em, concertId, new Date("2031-01-01T19:00:00Z"), 50);
    seats = (await em.execute<Array<{ id: number }>>("select id from seat where schedule_id = ? order by number", [scheduleId])).map((r) => r.id);
    redis = createRedisClient();
  });
  afterAll(async () => {
    redis?.disconnect();
    await stopNodes(node);
  });

  it("a hold keeps the buyer ACTIVE past QUEUE_ACTIVE_TTL_S, and paying then answers 201", async () => {
    const ann = await buyer("hold-ann");
    expect((await charge(ann)).status).toBe(200);
    const held = await hold(ann, takeSeats(2));
    expect(held.status).toBe(201);
    const holdEndsMs = Date.parse(held.body.expiresAt);
    const k = queueKeys(getConfig().redisPrefix, concertId);
    await eventually(async () => Number(await redis.zscore(k.active, ann.userId)) >= holdEndsMs, "ACTIVE extended to the hold's end");

    await new Promise((resolve) => setTimeout(resolve, ACTIVE_TTL_S * 1000 + 500));
    await node.call("queue.admitTick"); // a round that would drop an expired ACTIVE
    const me = await request("GET", `${base}/queue/me`, { token: ann.token, queueToken: ann.queueToken });
    expect(me.body).toMatchObject({ status: "ACTIVE", expiresAt: new Date(Number(await redis.zscore(k.active, ann.userId))).toISOString() });
    const paid = await pay(ann, held.body.id, "hold-ann-pay-1");
    expect(paid.status).toBe(201);
  }, 20_000);

  it("paying a live hold passes even when Redis lost the queue; without a hold the token is not ACTIVE (403)", async () => {
    const bob = await buyer("hold-bob");
    const carl = await buyer("hold-carl");
    expect((await charge(bob)).status).toBe(200);
    const held = await hold(bob, takeSeats(1));
    expect(held.status).toBe(201);
    const k = queueKeys(getConfig().redisPrefix, concertId);
    await redis.del(k.waiting, k.active, k.tokens, k.seen); // this concert's queue state, as after a Redis flush

    const seatMap = await request("GET", `${base}/schedules/${scheduleId}/seats`, { token: carl.token, queueToken: carl.queueToken });
    expect(seatMap).toMatchObject({ status: 403, body: { type: "QUEUE_NOT_ACTIVE" } });
    // A forged token is still refused, hold or not.
    const forged = await pay({ token: bob.token, queueToken: `${bob.queueToken}x` }, held.body.id, "hold-bob-pay-0");
    expect(forged).toMatchObject({ status: 401, body: { type: "QUEUE_TOKEN_INVALID" } });
    const paid = await pay(bob, held.body.id, "hold-bob-pay-1");
    expect(paid.status).toBe(201);
  });

  it("leaving the queue is not running out: a left token does not pay even a live hold (403)", async () => {
    const fay = await buyer("hold-fay");
    expect((await charge(fay)).status).toBe(200);
    const held = await hold(fay, takeSeats(1));
    expect(held.status).toBe(201);
    expect((await request("DELETE", `${base}/queue/me`, { token: fay.token, queueToken: fay.queueToken })).status).toBe(204);
    const refused = await pay(fay, held.body.id, "hold-fay-pay-1");
    expect(refused).toMatchObject({ status: 403, body: { type: "QUEUE_NOT_ACTIVE" } });
  });

  it("20 parallel holds by one user never exceed RESERVATION_MAX_SEATS_PER_USER (409 HOLD_LIMIT_REACHED)", async () => {
    const dee = await buyer("hold-dee");
    const candidates = takeSeats(20);
    const results = await Promise.all(candidates.map((seat) => hold(dee, [seat])));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(4);
    expect(statuses.filter((s) => s === 409)).toHaveLength(16);
    for (const refused of results.filter((r) => r.status === 409)) {
      expect(refused.body).toMatchObject({ type: "HOLD_LIMIT_REACHED", data: { limit: 4, scheduleId } });
    }
    expect(await liveSeats("hold-dee")).toBe(4);
    const free = await ormOf(node).execute<Array<{ n: string }>>("select count(*) as n from seat where id in (?) and status = 'AVAILABLE'", [candidates]);
    expect(Number(free[0].n)).toBe(16);
  }, 20_000);

  it("the cap counts across reservations; a cancelled hold frees its seats for the cap", async () => {
    const eve = await buyer("hold-eve");
    const first = await hold(eve, takeSeats(3));
    expect(first.status).toBe(201);
    const over = await hold(eve, takeSeats(2));
    expect(over).toMatchObject({ status: 409, body: { type: "HOLD_LIMIT_REACHED", data: { limit: 4, held: 3, requested: 2 } } });
    expect(await liveSeats("hold-eve")).toBe(3);
    expect((await hold(eve, takeSeats(1))).status).toBe(201);
    const cancelled = await request("DELETE", `${base}/reservations/${first.body.id}`, { token: eve.token });
    expect(cancelled.status).toBe(200);
    expect((await hold(eve, takeSeats(3))).status).toBe(201);
    expect(await liveSeats("hold-eve")).toBe(4);
  });
});
