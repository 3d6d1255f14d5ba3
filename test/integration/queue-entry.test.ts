import type Redis from "ioredis";
import type { ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import { createRedisClient } from "../../mixins/redis.mixin";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { createConcert } from "../../modules/catalog/catalog-writes";
import { queueConcertsKey, queueKeys } from "../../modules/queue/queue-keys";
import { verifyQueueToken } from "../../modules/queue/queue-token";
import CatalogService from "../../services/catalog.service";
import QueueService from "../../services/queue.service";
import { startNode, stopNodes } from "../support/nodes";
import { callWithStatus } from "../support/queue-redis";

interface EntryView {
  token: string;
  status: string;
  position: number | null;
  etaSeconds: number | null;
  expiresAt: string | null;
}

/**
 * Entering the queue under concurrency: two queue nodes, callers on a third node (calls cross NATS).
 * Admission is driven explicitly (long interval), so positions only reflect the entry order.
 */
describe("queue entry (real Redis, NATS, PostgreSQL)", () => {
  let server: ServiceBroker;
  let second: ServiceBroker;
  let client: ServiceBroker;
  let redis: Redis;
  let prefix: string;

  const enter = (concertId: number, userId: string) =>
    callWithStatus<EntryView>(client, "queue.enter", { concertId }, { user: { id: userId } });
  const newConcert = (title: string) =>
    createConcert((server.getLocalService("catalog") as unknown as OrmMethods).em(), title, "Queue Hall");

  beforeAll(async () => {
    process.env.QUEUE_ADMIT_INTERVAL_MS = "3600000";
    resetConfig();
    prefix = getConfig().redisPrefix;
    server = await startNode([CatalogService, QueueService], { nodeID: "queue-a" });
    second = await startNode([QueueService], { nodeID: "queue-b" });
    client = await startNode([], { nodeID: "caller" });
    await client.waitForServices(["queue", "catalog"]);
    redis = createRedisClient();
  });
  afterAll(async () => {
    redis?.disconnect();
    await stopNodes(client, second, server);
  });

  it("1,000 concurrent entries get the places 1..1000 in the order Redis sequenced them", async () => {
    const concertId = await newConcert("Rush Concert");
    const users = Array.from({ length: 1000 }, (_, i) => `rush-${i}`);
    const entries = await Promise.all(users.map((user) => enter(concertId, user)));

    const keys = queueKeys(prefix, concertId);
    const positions = entries.map((entry) => entry.body.position);
    expect([...positions].sort((a, b) => a! - b!)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    for (const [i, entry] of entries.entries()) {
      expect(entry.statusCode).toBe(201);
      expect(entry.body).toMatchObject({ status: "WAITING", expiresAt: null });
      expect(entry.body.etaSeconds).toBeGreaterThan(0);
      expect(verifyQueueToken(entry.body.token, getConfig().queueTokenSecret)).toMatchObject({ userId: users[i], concertId });
      // The place is the entry's sequence number: the order of entry, decided inside Redis.
      expect(Number(await redis.zscore(keys.waiting, users[i]))).toBe(entry.body.position);
    }
    expect(await redis.get(keys.seq)).toBe("1000");
    expect(await redis.hlen(keys.tokens)).toBe(1000);
    expect(await redis.zcard(keys.active)).toBe(0);
    expect(await redis.sismember(queueConcertsKey(prefix), String(concertId))).toBe(1);

    // Every user's status agrees with the place they were given.
    const statuses = await Promise.all(
      users.map((user, i) =>
        client.call<{ position: number; status: string; concertId: number }, unknown>("queue.status", {}, {
          meta: { user: { id: user }, queueToken: entries[i].body.token },
        }),
      ),
    );
    statuses.forEach((status, i) => expect(status).toMatchObject({ concertId, status: "WAITING", position: positions[i] }));

    // Entering again (twice each, all at once) changes nothing: same token, same place, 200.
    const before = await redis.zrange(keys.waiting, 0, -1, "WITHSCORES");
    const repeats = await Promise.all([...users, ...users].map((user) => enter(concertId, user)));
    repeats.forEach((repeat, i) => {
      expect(repeat.statusCode).toBe(200);
      expect(repeat.body).toEqual(expect.objectContaining({ token: entries[i % 1000].body.token, position: positions[i % 1000] }));
    });
    expect(await redis.zrange(keys.waiting, 0, -1, "WITHSCORES")).toEqual(before);
    expect(await redis.get(keys.seq)).toBe("1000");
    expect(await redis.hlen(keys.tokens)).toBe(1000);
  });

  it("the same user entering several times at once gets one entry and one token", async () => {
    const concertId = await newConcert("Double Click Concert");
    const users = Array.from({ length: 50 }, (_, i) => `dbl-${i}`);
    const calls = users.flatMap((user) => [user, user, user, user]);
    const results = await Promise.all(calls.map((user) => enter(concertId, user)));
    for (const user of users) {
      const mine = results.filter((_, i) => calls[i] === user);
      expect(mine.filter((r) => r.statusCode === 201)).toHaveLength(1);
      expect(mine.filter((r) => r.statusCode === 200)).toHaveLength(3);
      expect(new Set(mine.map((r) => r.body.token)).size).toBe(1);
      expect(new Set(mine.map((r) => r.body.position)).size).toBe(1);
    }
    const keys = queueKeys(prefix, concertId);
    expect(await redis.get(keys.seq)).toBe("50");
    expect(await redis.zcard(keys.waiting)).toBe(50);
  });

  it("users entering one after another are placed in that order, per concert", async () => {
    const [first, other] = [await newConcert("Ordered Concert"), await newConcert("Other Concert")];
    const positions: number[] = [];
    for (let i = 0; i < 20; i++) positions.push((await enter(first, `ord-${i}`)).body.position!);
    expect(positions).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // One queue per concert: the same users start again at 1 elsewhere, in their order there.
    expect((await enter(other, "ord-19")).body.position).toBe(1);
    expect((await enter(other, "ord-0")).body.position).toBe(2);
    expect(await redis.zrange(queueKeys(prefix, first).waiting, 0, -1)).toEqual(Array.from({ length: 20 }, (_, i) => `ord-${i}`));
  });

  it("an unknown concert is 404 and writes nothing; a call without a user is 401", async () => {
    const before = await redis.keys(`${prefix}queue:*`);
    await expect(enter(987654, "lost")).rejects.toMatchObject({ code: 404, type: "CONCERT_NOT_FOUND" });
    await expect(client.call("queue.enter", { concertId: 987654 })).rejects.toMatchObject({ code: 401 });
    await expect(enter(-3, "lost")).rejects.toMatchObject({ code: 422 });
    expect((await redis.keys(`${prefix}queue:*`)).sort()).toEqual(before.sort());
    expect(await redis.sismember(queueConcertsKey(prefix), "987654")).toBe(0);
  });
});
