import type Redis from "ioredis";
import type { ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { createConcert } from "../../modules/catalog/catalog-writes";
import { queueAdmitLeaseKey, queueConcertsKey, queueKeys } from "../../modules/queue/queue-keys";
import type { AdmissionRound } from "../../modules/queue/queue-store";
import { startQueueCluster, stopQueueCluster } from "../support/queue-cluster";
import { activeQueueToken } from "../support/queue";
import { eventually } from "../support/queue-redis";

const ACTIVE_MAX = 7;
const BATCH = 3;

interface Tick {
  ran: boolean;
  rounds: AdmissionRound[];
}

/**
 * Admission with two queue nodes on one NATS and Redis. Rounds are driven explicitly (the
 * scheduler's interval is an hour), several at once on both nodes.
 */
describe("queue admission (real Redis, NATS, PostgreSQL)", () => {
  let nodeA: ServiceBroker;
  let nodeB: ServiceBroker;
  let client: ServiceBroker;
  let redis: Redis;
  let prefix: string;

  const newConcert = (title: string) =>
    createConcert((nodeA.getLocalService("catalog") as unknown as OrmMethods).em(), title, "Admission Hall");
  const enter = (concertId: number, userId: string) =>
    client.call<{ token: string; position: number }, unknown>("queue.enter", { concertId }, { meta: { user: { id: userId } } });
  const status = (userId: string, token: string) =>
    client.call<{ status: string; position: number | null; etaSeconds: number | null }, unknown>("queue.status", {}, {
      meta: { user: { id: userId }, queueToken: token },
    });
  /** Four rounds at the same time, two on each node. */
  const concurrentTicks = () =>
    Promise.all(["adm-a", "adm-b", "adm-a", "adm-b"].map((nodeID) => client.call<Tick, unknown>("queue.admitTick", {}, { nodeID })));

  beforeAll(async () => {
    Object.assign(process.env, {
      QUEUE_ADMIT_INTERVAL_MS: "3600000",
      QUEUE_ACTIVE_MAX: String(ACTIVE_MAX),
      QUEUE_ADMIT_BATCH: String(BATCH),
      QUEUE_ACTIVE_TTL_S: "600",
    });
    resetConfig();
    prefix = getConfig().redisPrefix;
    ({ nodeA, nodeB, client, redis } = await startQueueCluster("adm"));
  });
  afterAll(() => stopQueueCluster({ nodeA, nodeB, client, redis }));

  it("two nodes admitting at once never exceed QUEUE_ACTIVE_MAX and admit in entry order", async () => {
    const concertId = await newConcert("Admission Concert");
    const keys = queueKeys(prefix, concertId);
    const users = Array.from({ length: 40 }, (_, i) => `adm-${i}`);
    const tokens = new Map<string, string>();
    await Promise.all(users.map(async (user) => tokens.set(user, (await enter(concertId, user)).token)));
    const entryOrder = await redis.zrange(keys.waiting, 0, -1);
    expect(entryOrder).toHaveLength(40);

    const everAdmitted: string[] = [];
    let reportedAdmissions = 0;
    let freed = 0;
    for (let step = 0; (await redis.zcard(keys.waiting)) > 0; step++) {
      const ticks = await concurrentTicks();
      for (const tick of ticks) {
        expect(tick.ran).toBe(true);
        reportedAdmissions += tick.rounds.filter((r) => r.concertId === concertId).reduce((sum, r) => sum + r.admitted, 0);
      }
      const active = await redis.zrange(keys.active, 0, -1);
      expect(active.length).toBeLessThanOrEqual(ACTIVE_MAX);
      for (const user of active) if (!everAdmitted.includes(user)) everAdmitted.push(user);
      // FIFO: whoever was ever admitted is exactly the head of the entry order.
      expect([...everAdmitted].sort()).toEqual(entryOrder.slice(0, everAdmitted.length).sort());
      // The room is always used: full, unless nobody is left waiting.
      if ((await redis.zcard(keys.waiting)) > 0) expect(active.length).toBe(ACTIVE_MAX);

      // Free three places: leave, pay, leave. Everyone else keeps theirs.
      const leaving = active.slice(0, 3);
      for (const [i, user] of leaving.entries()) {
        if (i === 1) {
          client.emit("payment.completed", {
            eventId: `00000000-0000-4000-8000-${String(step).padStart(12, "0")}`,
            paymentId: step + 1,
            reservationId: step + 1,
            userId: user,
            concertId,
            scheduleId: 1,
            seatIds: [1],
            amount: 1000,
            paidAt: new Date().toISOString(),
          });
        } else {
          await client.call("queue.leave", {}, { meta: { user: { id: user }, queueToken: tokens.get(user) } });
        }
      }
      await eventually(async () => (await redis.zcard(keys.active)) === active.length - leaving.length, "places freed");
      for (const user of leaving) expect(await status(user, tokens.get(user)!)).toMatchObject({ status: "EXPIRED", position: null });
      freed += leaving.length;
      expect(step).toBeLessThan(40);
    }
    expect(everAdmitted).toHaveLength(40);
    expect(reportedAdmissions).toBe(40);
    expect(freed).toBeGreaterThanOrEqual(40 - ACTIVE_MAX);
  });

  it("waiting positions move up as the head is admitted, with an ETA from the observed rate", async () => {
    const concertId = await newConcert("ETA Concert");
    const users = Array.from({ length: 12 }, (_, i) => `eta-${i}`);
    const tokens: string[] = [];
    for (const user of users) tokens.push((await enter(concertId, user)).token);
    // Nothing admitted yet: the configured rate (3 per hour) -> 1200 s per place.
    expect(await status(users[11], tokens[11])).toMatchObject({ status: "WAITING", position: 12, etaSeconds: 12 * 1200 });

    await concurrentTicks();
    await concurrentTicks();
    // 7 admitted (then the active set was full) over rounds spanning ~one interval (an hour):
    // about 7 per hour, so the 5th in line waits about 5 * 3600 / 7 s, not the configured 5 * 1200 s.
    const fifth = await status(users[11], tokens[11]);
    expect(fifth).toMatchObject({ status: "WAITING", position: 5 });
    expect(fifth.etaSeconds).toBeGreaterThanOrEqual(Math.ceil((5 * 3600) / 7));
    expect(fifth.etaSeconds).toBeLessThanOrEqual(Math.ceil((5 * 3660) / 7));
    for (let i = 0; i < 7; i++) expect((await status(users[i], tokens[i])).status).toBe("ACTIVE");
    expect(await status(users[7], tokens[7])).toMatchObject({ status: "WAITING", position: 1 });
  });

  it("with the scheduler's lease, exactly one of several nodes admits in a round", async () => {
    const concertId = await newConcert("Lease Concert");
    for (let i = 0; i < 5; i++) await enter(concertId, `lease-${i}`);
    await redis.del(queueAdmitLeaseKey(prefix));
    const ticks = await Promise.all(
      ["adm-a", "adm-b", "adm-a", "adm-b", "adm-a", "adm-b"].map((nodeID) =>
        client.call<Tick, { lease: boolean }>("queue.admitTick", { lease: true }, { nodeID }),
      ),
    );
    expect(ticks.filter((tick) => tick.ran)).toHaveLength(1);
    const holder = await redis.get(queueAdmitLeaseKey(prefix));
    expect(["adm-a", "adm-b"]).toContain(holder);
    expect(await redis.zcard(queueKeys(prefix, concertId).active)).toBe(BATCH);
    // While the lease lasts nobody else admits; without the lease (direct call) a round runs.
    expect((await client.call<Tick, { lease: boolean }>("queue.admitTick", { lease: true }, { nodeID: "adm-a" })).ran).toBe(false);
    expect((await client.call<Tick, unknown>("queue.admitTick", {}, { nodeID: "adm-b" })).ran).toBe(true);
  });

  it("the test helper hands out an ACTIVE token; a drained concert leaves the admitter's list", async () => {
    const concertId = await newConcert("Helper Concert");
    const token = await activeQueueToken(client, "helper-user", concertId);
    expect(await status("helper-user", token)).toMatchObject({ status: "ACTIVE", position: 0 });
    expect(await redis.sismember(queueConcertsKey(prefix), String(concertId))).toBe(1);
    await client.call("queue.leave", {}, { meta: { user: { id: "helper-user" }, queueToken: token } });
    await client.call("queue.admitTick");
    expect(await redis.sismember(queueConcertsKey(prefix), String(concertId))).toBe(0);
  });
});
