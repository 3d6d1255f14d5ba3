import type Redis from "ioredis";
import type { ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import { createRedisClient } from "../../mixins/redis.mixin";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { createConcert } from "../../modules/catalog/catalog-writes";
import { queueKeys } from "../../modules/queue/queue-keys";
import CatalogService from "../../services/catalog.service";
import QueueService from "../../services/queue.service";
import { startNode, stopNodes } from "../support/nodes";
import { eventually } from "../support/queue-redis";

const INTERVAL_MS = 200;

/** The built-in scheduler on two nodes: nobody calls admitTick here. */
describe("queue admission scheduler (real Redis, NATS, PostgreSQL)", () => {
  let nodeA: ServiceBroker;
  let nodeB: ServiceBroker;
  let redis: Redis;
  let prefix: string;

  beforeAll(async () => {
    Object.assign(process.env, {
      QUEUE_ADMIT_INTERVAL_MS: String(INTERVAL_MS),
      QUEUE_ACTIVE_MAX: "3",
      QUEUE_ADMIT_BATCH: "1",
      QUEUE_ACTIVE_TTL_S: "600",
    });
    resetConfig();
    prefix = getConfig().redisPrefix;
    nodeA = await startNode([CatalogService, QueueService], { nodeID: "sched-a" });
    nodeB = await startNode([QueueService], { nodeID: "sched-b" });
    redis = createRedisClient();
  });
  afterAll(async () => {
    redis?.disconnect();
    await stopNodes(nodeB, nodeA);
  });

  it("admits on its own, one batch per round, in entry order, and rounds of both nodes never overlap a lease", async () => {
    const concertId = await createConcert((nodeA.getLocalService("catalog") as unknown as OrmMethods).em(), "Timer Concert", "Hall");
    const keys = queueKeys(prefix, concertId);
    const users = Array.from({ length: 6 }, (_, i) => `sched-${i}`);
    for (const user of users) await nodeB.call("queue.enter", { concertId }, { meta: { user: { id: user } } });

    await eventually(async () => (await redis.zcard(keys.active)) === 3, "three admitted by the scheduler");
    // Let a few more rounds run against the full active set.
    await eventually(async () => (await redis.zcard(keys.stats)) >= 8, "eight rounds recorded");
    expect((await redis.zrange(keys.active, 0, -1)).sort()).toEqual(users.slice(0, 3));
    expect(await redis.zrange(keys.waiting, 0, -1)).toEqual(users.slice(3));

    // Each round is recorded as "<node>.<n>:<admitted>" at its Redis time.
    const rounds = await redis.zrange(keys.stats, 0, -1, "WITHSCORES");
    const times: number[] = [];
    let admitted = 0;
    for (let i = 0; i < rounds.length; i += 2) {
      expect(rounds[i]).toMatch(/^sched-[ab]\.\d+:[01]$/);
      admitted += Number(rounds[i].split(":").at(-1));
      times.push(Number(rounds[i + 1]));
    }
    expect(admitted).toBe(3);
    // The lease (80% of the interval) keeps any two rounds, from either node, that far apart
    // (less a wide margin for the time between taking the lease and running the round).
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(INTERVAL_MS * 0.5);
  });
});
