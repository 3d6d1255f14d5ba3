import type Redis from "ioredis";
import type { ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import { createRedisClient } from "../../mixins/redis.mixin";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { createConcert } from "../../modules/catalog/catalog-writes";
import { checkActiveToken } from "../../modules/queue/active-check";
import { queueKeys } from "../../modules/queue/queue-keys";
import { QueueMetrics } from "../../modules/queue/queue-metrics";
import CatalogService from "../../services/catalog.service";
import QueueService from "../../services/queue.service";
import { startNode, stopNodes } from "../support/nodes";
import { eventually } from "../support/queue-redis";

/**
 * ACTIVE tokens expire after QUEUE_ACTIVE_TTL_S (1 s here) and free their place. This node runs
 * with metrics enabled (no reporter) to check the queue's gauges and counter.
 */
describe("queue expiry and metrics (real Redis, NATS, PostgreSQL)", () => {
  let node: ServiceBroker;
  let redis: Redis;
  let prefix: string;

  const enter = (concertId: number, userId: string) =>
    node.call<{ token: string; status: string; position: number }, unknown>("queue.enter", { concertId }, { meta: { user: { id: userId } } });
  const status = (userId: string, token: string) =>
    node.call<{ status: string; position: number | null; expiresAt: string | null }, unknown>("queue.status", {}, {
      meta: { user: { id: userId }, queueToken: token },
    });
  const gauge = (name: string, concertId: number) =>
    (node.metrics.getMetric(name) as unknown as { get(labels: object): { value: number } | null }).get({ concertId })?.value;

  beforeAll(async () => {
    Object.assign(process.env, {
      QUEUE_ADMIT_INTERVAL_MS: "3600000",
      QUEUE_ACTIVE_MAX: "2",
      QUEUE_ADMIT_BATCH: "2",
      QUEUE_ACTIVE_TTL_S: "1",
    });
    resetConfig();
    prefix = getConfig().redisPrefix;
    node = await startNode([CatalogService, QueueService], { nodeID: "exp-a", metrics: { enabled: true, reporter: [] } });
    redis = createRedisClient();
  });
  afterAll(async () => {
    redis?.disconnect();
    await stopNodes(node);
  });

  it("an ACTIVE token expires after its TTL, and the next round admits the next in line", async () => {
    const concertId = await createConcert((node.getLocalService("catalog") as unknown as OrmMethods).em(), "Short Concert", "Hall");
    const keys = queueKeys(prefix, concertId);
    const [a, b, c] = [await enter(concertId, "exp-a"), await enter(concertId, "exp-b"), await enter(concertId, "exp-c")];
    await node.call("queue.admitTick");
    expect(await status("exp-a", a.token)).toMatchObject({ status: "ACTIVE", position: 0 });
    expect(await status("exp-c", c.token)).toMatchObject({ status: "WAITING", position: 1 });
    // Full: another round admits nobody.
    await node.call("queue.admitTick");
    expect(await status("exp-c", c.token)).toMatchObject({ status: "WAITING", position: 1 });
    const secret = getConfig().queueTokenSecret;
    expect(await checkActiveToken(redis, prefix, secret, a.token, "exp-a", concertId)).toBe("ACTIVE");

    await eventually(async () => (await status("exp-a", a.token)).status === "EXPIRED", "a's token expires", 5_000);
    expect(await status("exp-b", b.token)).toMatchObject({ status: "EXPIRED", position: null, expiresAt: null });
    expect(await checkActiveToken(redis, prefix, secret, a.token, "exp-a", concertId)).toBe("NOT_ACTIVE");
    // Entering again while the expired entry is still in Redis is a new entry at the back.
    const again = await enter(concertId, "exp-a");
    expect(again.token).not.toBe(a.token);
    expect(again).toMatchObject({ status: "WAITING", position: 2 });

    await node.call("queue.admitTick");
    expect(await status("exp-c", c.token)).toMatchObject({ status: "ACTIVE" });
    expect(await status("exp-a", again.token)).toMatchObject({ status: "ACTIVE" });
    expect(await redis.zrange(keys.active, 0, -1)).toEqual(expect.arrayContaining(["exp-a", "exp-c"]));
    expect(await redis.zcard(keys.active)).toBe(2);
    // The expired entry's nonce is gone; the old token of "exp-a" stays EXPIRED.
    expect(await redis.hexists(keys.tokens, "exp-b")).toBe(0);
    expect(await status("exp-a", a.token)).toMatchObject({ status: "EXPIRED" });
  });

  it("reports waiting length, active count and admissions per concert", async () => {
    const concertId = await createConcert((node.getLocalService("catalog") as unknown as OrmMethods).em(), "Metrics Concert", "Hall");
    const tokens: string[] = [];
    for (let i = 0; i < 5; i++) tokens.push((await enter(concertId, `met-${i}`)).token);
    await node.call("queue.admitTick");
    expect(gauge(QueueMetrics.waiting, concertId)).toBe(3);
    expect(gauge(QueueMetrics.active, concertId)).toBe(2);
    expect(gauge(QueueMetrics.admissions, concertId)).toBe(2);
    expect(gauge(QueueMetrics.admissionRate, concertId)).toBeGreaterThan(0);

    await eventually(async () => (await status("met-1", tokens[1])).status === "EXPIRED", "the actives expire", 5_000);
    await node.call("queue.admitTick");
    expect(gauge(QueueMetrics.waiting, concertId)).toBe(1);
    expect(gauge(QueueMetrics.active, concertId)).toBe(2);
    expect(gauge(QueueMetrics.admissions, concertId)).toBe(4);
  });
});
