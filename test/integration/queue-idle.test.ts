import type Redis from "ioredis";
import type { Context, ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { createConcert } from "../../modules/catalog/catalog-writes";
import { queueKeys } from "../../modules/queue/queue-keys";
import { saveControls } from "../../modules/queue/queue-control-store";
import { QueueStore } from "../../modules/queue/queue-store";
import { newNonce } from "../../modules/queue/queue-token";
import { startQueueCluster, stopQueueCluster } from "../support/queue-cluster";

interface Status {
  status: string;
  position: number | null;
}

/** SPEC §8 idle places with two queue nodes: rounds are driven explicitly, on either node. */
describe("idle places are given back (real Redis, NATS, PostgreSQL)", () => {
  let nodeA: ServiceBroker;
  let nodeB: ServiceBroker;
  let client: ServiceBroker;
  let redis: Redis;

  const em = () => (nodeA.getLocalService("catalog") as unknown as OrmMethods).em();
  const enter = (concertId: number, userId: string) =>
    client.call<{ token: string; position: number }, unknown>("queue.enter", { concertId }, { meta: { user: { id: userId } } });
  const status = (userId: string, token: string) =>
    client.call<Status, unknown>("queue.status", {}, { meta: { user: { id: userId }, queueToken: token } });
  async function statusWithRetryAfter(userId: string, token: string): Promise<{ body: Status; retryAfter?: string }> {
    const pending = client.call("queue.status", {}, { meta: { user: { id: userId }, queueToken: token } }) as Promise<Status> & {
      ctx: Context<unknown, { $responseHeaders?: Record<string, string> }>;
    };
    const body = await pending;
    return { body, retryAfter: pending.ctx.meta.$responseHeaders?.["Retry-After"] };
  }

  beforeAll(async () => {
    Object.assign(process.env, { QUEUE_ADMIT_INTERVAL_MS: "3600000", QUEUE_ADMIT_BATCH: "3", QUEUE_WAITING_IDLE_S: "2" });
    resetConfig();
    ({ nodeA, nodeB, client, redis } = await startQueueCluster("idle"));
  });
  afterAll(() => stopQueueCluster({ nodeA, nodeB, client, redis }));

  it("skips and EXPIREs users idle for QUEUE_WAITING_IDLE_S; those who keep polling are admitted in order", async () => {
    const concertId = await createConcert(em(), "Idle", "Hall");
    const users = ["i0", "i1", "i2", "i3", "i4", "i5"];
    const tokens = new Map<string, string>();
    for (const user of users) tokens.set(user, (await enter(concertId, user)).token);
    const pollers = ["i0", "i2", "i4", "i5"];
    const deadline = Date.now() + 2600;
    while (Date.now() < deadline) {
      await Promise.all(pollers.map((user) => status(user, tokens.get(user) as string)));
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const tick = await client.call<{ rounds: Array<{ admitted: number; reaped: number }> }, unknown>("queue.admitTick", {}, { nodeID: "idle-b" });
    expect(tick.rounds.find((r) => r.admitted > 0)).toMatchObject({ admitted: 3, reaped: 2 });
    const after = new Map(await Promise.all(users.map(async (u) => [u, await status(u, tokens.get(u) as string)] as const)));
    expect(after.get("i0")?.status).toBe("ACTIVE");
    expect(after.get("i2")?.status).toBe("ACTIVE");
    expect(after.get("i4")?.status).toBe("ACTIVE");
    expect(after.get("i1")).toEqual({ concertId, status: "EXPIRED", position: null, etaSeconds: null, expiresAt: null });
    expect(after.get("i3")?.status).toBe("EXPIRED");
    expect(after.get("i5")).toMatchObject({ status: "WAITING", position: 1 });
    const k = queueKeys(getConfig().redisPrefix, concertId);
    expect(await redis.zscore(k.seen, "i1")).toBeNull();

    // Entering again puts an idle user at the back, with a new token.
    const back = await enter(concertId, "i1");
    expect(back.token).not.toBe(tokens.get("i1"));
    expect(back.position).toBe(2);
  }, 20_000);

  it("a round gives back a bounded number of idle places (no full scan), the rest in the next rounds", async () => {
    const concertId = await createConcert(em(), "Idle many", "Hall");
    await saveControls(em(), concertId, { paused: true });
    const store = new QueueStore(redis, getConfig().redisPrefix);
    for (let i = 0; i < 2500; i++) await store.enter(concertId, `many-${i}`, newNonce(), 60_000);
    await new Promise((resolve) => setTimeout(resolve, 2200));
    const k = queueKeys(getConfig().redisPrefix, concertId);
    const reapedPerRound: number[] = [];
    for (let i = 0; i < 2; i++) {
      const tick = await client.call<{ rounds: Array<{ concertId: number; reaped: number }> }, unknown>("queue.admitTick", {}, { nodeID: "idle-a" });
      reapedPerRound.push(tick.rounds.find((r) => r.concertId === concertId)?.reaped ?? -1);
    }
    expect(reapedPerRound).toEqual([2000, 500]);
    expect(await redis.zcard(k.waiting)).toBe(0);
  }, 30_000);

  it("Retry-After grows with the distance to the front (≈1 s near it, up to 20 s far back)", async () => {
    process.env.QUEUE_WAITING_IDLE_S = "120";
    resetConfig();
    const concertId = await createConcert(em(), "Retry-After", "Hall");
    await saveControls(em(), concertId, { paused: true, admitBatch: 10, admitIntervalMs: 1000 });
    const store = new QueueStore(redis, getConfig().redisPrefix);
    const nonces: string[] = [];
    for (let i = 0; i < 2000; i++) nonces.push((await store.enter(concertId, `ra-${i}`, newNonce(), 60_000)).nonce);
    const { signQueueToken } = await import("../../modules/queue/queue-token");
    const token = (i: number) => signQueueToken({ userId: `ra-${i}`, concertId, nonce: nonces[i] }, getConfig().queueTokenSecret);
    const front = await statusWithRetryAfter("ra-0", token(0));
    const middle = await statusWithRetryAfter("ra-499", token(499));
    const back = await statusWithRetryAfter("ra-1999", token(1999));
    expect(front).toMatchObject({ body: { position: 1 }, retryAfter: "1" });
    expect(middle).toMatchObject({ body: { position: 500 }, retryAfter: "5" });
    expect(back).toMatchObject({ body: { position: 2000 }, retryAfter: "20" });
  }, 30_000);
});
