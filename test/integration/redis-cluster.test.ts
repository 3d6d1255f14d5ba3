/**
 * The system on a real 3-master Redis Cluster (REDIS_CLUSTER_NODES), with PostgreSQL, NATS and
 * Kafka as usual: queue entry, admission and status, holds (with a conflicting hold refused by
 * the Redis lock), payment and the ranking update, through the gateway. Any script or lock that
 * touched keys of two slots would fail here with CROSSSLOT. Then the keys themselves: one
 * concert's keys share a slot, several concerts spread over the masters.
 */
import type { ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import { isCluster, type RedisMethods } from "../../mixins/redis.mixin";
import { createConcert, createSchedule } from "../../modules/catalog/catalog-writes";
import { queueKeys } from "../../modules/queue/queue-keys";
import { rankingKeys } from "../../modules/ranking/concert-ranking";
import ApiService from "../../services/api.service";
import AuthService from "../../services/auth.service";
import CatalogService from "../../services/catalog.service";
import PaymentsService from "../../services/payments.service";
import PointsService from "../../services/points.service";
import QueueService from "../../services/queue.service";
import RankingService from "../../services/ranking.service";
import ReservationsService from "../../services/reservations.service";
import { devToken, request } from "../support/http";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { LocalRedisCluster } from "../support/redis-cluster";
import { openSse } from "../support/sse";
import { ormOf, waitFor } from "../support/reservations";

const CONCERTS = 6;

describe("Redis Cluster (3 local masters, real services)", () => {
  const cluster = new LocalRedisCluster();
  let node: ServiceBroker;
  let base: string;
  let prefix: string;
  const concertIds: number[] = [];
  let scheduleId: number;
  let seats: number[];
  const bearer = new Map<string, string>();
  const queueToken = new Map<string, string>();
  const users = ["alice", "bob", "carol"];
  let holder = ""; // who won the hold race
  const redis = () => (node.getLocalService("queue") as unknown as RedisMethods).redis;

  beforeAll(async () => {
    await cluster.start(3);
    process.env.REDIS_CLUSTER_NODES = cluster.nodesSetting;
    process.env.QUEUE_ADMIT_INTERVAL_MS = "3600000"; // rounds only when the test asks (queue.admitTick)
    resetConfig();
    prefix = getConfig().redisPrefix;
    node = await startNode(
      [ApiService, AuthService, CatalogService, QueueService, ReservationsService, PointsService, PaymentsService, RankingService],
      { nodeID: "redis-cluster" },
    );
    base = apiUrl(node);
    await waitForApiAliases(node, ["auth.devToken", "queue.enter", "queue.status", "reservations.create", "points.charge", "payments.create", "ranking.concerts"]);
    const em = ormOf(node);
    for (let i = 0; i < CONCERTS; i++) concertIds.push(await createConcert(em, `Cluster Concert ${i + 1}`, "Hall"));
    scheduleId = await createSchedule(em, concertIds[0], new Date(Date.now() + 86_400_000), 10, () => 1000);
    const rows = await em.execute<Array<{ id: number }>>("select id from seat where schedule_id = ? order by number", [scheduleId]);
    seats = rows.map((row) => row.id);
    for (const user of users) bearer.set(user, await devToken(base, user));
  }, 120_000);

  afterAll(async () => {
    await stopNodes(node);
    await cluster.stop();
    delete process.env.REDIS_CLUSTER_NODES;
    resetConfig();
  });

  it("runs every Redis client of the node as a Cluster client, and health pings it", async () => {
    expect(isCluster(redis())).toBe(true);
    expect(node.cacher).toBeFalsy(); // the catalog's versioned cache uses the services' client
    const health = await request("GET", `${base}/health`);
    expect(health.body.checks.redis).toBe("up");
  });

  it("queues, admits and reports status (FIFO, one admission round; the stream hears it by pub/sub)", async () => {
    const [concertId] = concertIds;
    for (const [i, user] of users.entries()) {
      const entry = await request("POST", `${base}/concerts/${concertId}/queue`, { token: bearer.get(user) });
      expect(entry).toMatchObject({ status: 201, body: { status: "WAITING", position: i + 1 } });
      queueToken.set(user, entry.body.token);
    }
    const waiting = await request("GET", `${base}/queue/me`, { token: bearer.get("bob"), queueToken: queueToken.get("bob") });
    expect(waiting).toMatchObject({ status: 200, body: { status: "WAITING", position: 2 } });
    expect(await redis().sismember(`${prefix}queue:concerts`, String(concertId))).toBe(1);
    const stream = await openSse(`${base}/queue/stream?queueToken=${encodeURIComponent(queueToken.get("carol")!)}`);
    expect(stream.status).toBe(200);
    await stream.until(() => stream.events.some((e) => e.data.status === "WAITING"), "carol waiting");

    await node.call("queue.admitTick");
    // Far sooner than the streams' periodic re-read (30 s): the round's PUBLISH reached the Cluster subscriber.
    await stream.until(() => stream.events.some((e) => e.data.status === "ACTIVE"), "carol admitted", 5000);
    stream.close();
    for (const user of users) {
      const status = await request("GET", `${base}/queue/me`, { token: bearer.get(user), queueToken: queueToken.get(user) });
      expect(status).toMatchObject({ status: 200, body: { status: "ACTIVE", position: 0 } });
    }
    // Every other concert gets a queue too: its keys land in its own slot.
    for (const other of concertIds.slice(1)) {
      const entry = await request("POST", `${base}/concerts/${other}/queue`, { token: bearer.get("carol") });
      expect(entry.status).toBe(201);
    }
    await node.call("queue.admitTick");
  });

  it("holds seats; a conflicting hold gets 409, also while the schedule's seat lock is held", async () => {
    const [first, second] = await Promise.all(
      ["alice", "bob"].map((user, i) =>
        request("POST", `${base}/reservations`, {
          token: bearer.get(user),
          queueToken: queueToken.get(user),
          json: { scheduleId, seatIds: i === 0 ? [seats[0], seats[1]] : [seats[1], seats[2]] },
        }),
      ),
    );
    expect([first.status, second.status].sort()).toEqual([201, 409]);
    const winner = first.status === 201 ? first : second;
    holder = first.status === 201 ? "alice" : "bob";

    // Another node's lock on seat 4 (the key that node would take): carol is refused at once by the lock.
    const lockKey = `${prefix}lock:{s${scheduleId}}:seat:${seats[3]}`;
    expect(await redis().set(lockKey, "someone-else", "PX", 5000, "NX")).toBe("OK");
    const locked = await request("POST", `${base}/reservations`, {
      token: bearer.get("carol"),
      queueToken: queueToken.get("carol"),
      json: { scheduleId, seatIds: [seats[4], seats[3]] },
    });
    expect(locked).toMatchObject({ status: 409, body: { type: "SEAT_UNAVAILABLE" } });
    expect(await redis().get(lockKey)).toBe("someone-else"); // not released by the refused call
    await redis().del(lockKey);
    const [{ count }] = await ormOf(node).execute<Array<{ count: string }>>(
      "select count(*) from reservation where schedule_id = ? and user_id = 'carol'",
      [scheduleId],
    );
    expect(Number(count)).toBe(0);
    expect(winner.body).toMatchObject({ status: "HELD" });
  });

  it("pays the hold, and the ranking counts its seats", async () => {
    const [reservation] = await ormOf(node).execute<Array<{ id: number }>>(
      "select id from reservation where schedule_id = ? and user_id = ? and status = 'HELD'",
      [scheduleId, holder],
    );
    const charged = await request("POST", `${base}/points/charge`, { token: bearer.get(holder), json: { amount: 5000 } });
    expect(charged.status).toBe(200);
    const paid = await request("POST", `${base}/payments`, {
      token: bearer.get(holder),
      queueToken: queueToken.get(holder),
      idempotencyKey: `cluster-pay-${holder}-0001`,
      json: { reservationId: reservation.id },
    });
    expect(paid).toMatchObject({ status: 201, body: { status: "COMPLETED", amount: 2000 } });

    await waitFor(async () => Number(await redis().zscore(rankingKeys(prefix).concerts, String(concertIds[0]))) === 2, "ranking counted");
    const ranking = await request("GET", `${base}/rankings/concerts`);
    expect(ranking.body).toEqual([{ concertId: concertIds[0], title: "Cluster Concert 1", soldSeats: 2 }]);
    // The payer's queue entry is gone (payment.completed): the token is EXPIRED now.
    await waitFor(async () => (await redis().hget(queueKeys(prefix, concertIds[0]).tokens, holder)) === null, "paid entry removed");
  });

  it("keeps each concert's keys in one slot, and spreads concerts over more than one master", async () => {
    const byMaster = await Promise.all(cluster.ports.map((port) => cluster.keysOn(port, prefix)));
    const all = byMaster.flat();
    const mastersOfConcert = new Map<number, Set<number>>();
    for (const [i, concertId] of concertIds.entries()) {
      const own = all.filter((key) => key.startsWith(`${prefix}queue:{c${concertId}}:`));
      expect(own.length).toBeGreaterThanOrEqual(3); // at least seq, waiting/active, tokens, seen …
      const slots = new Set(await Promise.all(own.map((key) => cluster.keySlot(key))));
      expect(slots.size).toBe(1);
      expect(slots).toEqual(new Set([await cluster.keySlot(queueKeys(prefix, concertId).waiting)]));
      mastersOfConcert.set(i, new Set(byMaster.flatMap((keys, m) => (keys.some((key) => own.includes(key)) ? [m] : []))));
    }
    for (const masters of mastersOfConcert.values()) expect(masters.size).toBe(1);
    const usedMasters = new Set([...mastersOfConcert.values()].flatMap((masters) => [...masters]));
    expect(usedMasters.size).toBeGreaterThan(1);

    const ranking = all.filter((key) => key.startsWith(`${prefix}ranking:`));
    expect(ranking.length).toBeGreaterThanOrEqual(2); // the ZSET and the payment's marker
    expect(new Set(await Promise.all(ranking.map((key) => cluster.keySlot(key)))).size).toBe(1);
    // The gateway's rate limiter counted on the cluster (not on its in-memory insurance limiter).
    expect(all.some((key) => key.startsWith(`${prefix}ratelimit`))).toBe(true);
    console.log(
      `Redis Cluster: ${all.length} keys; per master ${byMaster.map((keys) => keys.length).join(" / ")}; ` +
        `${CONCERTS} concerts on ${usedMasters.size} masters`,
    );
  });
});
