import type Redis from "ioredis";
import type { ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { addConcert, updateConcert } from "../../modules/catalog/catalog-writes";
import { queueKeys } from "../../modules/queue/queue-keys";
import { PRE_BASE, PreQueueOpener } from "../../modules/queue/pre-queue-open";
import { QueueStore } from "../../modules/queue/queue-store";
import { newNonce } from "../../modules/queue/queue-token";
import { startQueueCluster, stopQueueCluster } from "../support/queue-cluster";
import { callWithStatus, eventually, queueSnapshot } from "../support/queue-redis";

interface Entry {
  token: string;
  status: string;
  position: number | null;
  etaSeconds: number | null;
}

const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

/** Spearman's rank correlation of two orders of the same items. */
function rankCorrelation(a: string[], b: string[]): number {
  const rankB = new Map(b.map((item, i) => [item, i]));
  const n = a.length;
  let d2 = 0;
  a.forEach((item, i) => {
    const d = i - (rankB.get(item) as number);
    d2 += d * d;
  });
  return 1 - (6 * d2) / (n * (n * n - 1));
}

/**
 * SPEC §8 phases with two queue nodes on one NATS and Redis: CLOSED before queueOpensAt, PRE_QUEUE
 * until saleOpensAt, then one cryptographic shuffle ahead of later arrivals, FIFO afterwards.
 */
describe("queue phases and the pre-queue shuffle (real Redis, NATS, PostgreSQL)", () => {
  let nodeA: ServiceBroker;
  let nodeB: ServiceBroker;
  let client: ServiceBroker;
  let redis: Redis;
  let prefix: string;

  const em = () => (nodeA.getLocalService("catalog") as unknown as OrmMethods).em();
  const enter = (concertId: number, userId: string) =>
    callWithStatus<Entry>(client, "queue.enter", { concertId }, { user: { id: userId } });
  const status = (userId: string, token: string) =>
    client.call<Entry, unknown>("queue.status", {}, { meta: { user: { id: userId }, queueToken: token } });

  beforeAll(async () => {
    Object.assign(process.env, { QUEUE_ADMIT_INTERVAL_MS: "3600000", QUEUE_ADMIT_BATCH: "100", QUEUE_ACTIVE_MAX: "100000" });
    resetConfig();
    prefix = getConfig().redisPrefix;
    ({ nodeA, nodeB, client, redis } = await startQueueCluster("pre"));
  });
  afterAll(() => stopQueueCluster({ nodeA, nodeB, client, redis }));

  it("before queueOpensAt: 409 QUEUE_NOT_OPEN with data.opensAt, and nothing is written; unknown concert 404", async () => {
    const opensAt = iso(3_600_000);
    const concert = await addConcert(em(), { title: "Closed", venue: "Hall", queueOpensAt: opensAt, saleOpensAt: iso(7_200_000) });
    const before = await queueSnapshot(redis, prefix);
    await expect(enter(concert.id, "early-bird")).rejects.toMatchObject({ code: 409, type: "QUEUE_NOT_OPEN", data: { opensAt } });
    await expect(enter(999_999, "nobody")).rejects.toMatchObject({ code: 404, type: "CONCERT_NOT_FOUND" });
    expect(await queueSnapshot(redis, prefix)).toEqual(before);
  });

  it("1,000 pre-queue entries are shuffled once at the opening, ahead of later arrivals, which stay FIFO", async () => {
    const concert = await addConcert(em(), { title: "Pre-queue", venue: "Hall", queueOpensAt: iso(-60_000), saleOpensAt: iso(3_600_000) });
    const k = queueKeys(prefix, concert.id);
    const arrivals = Array.from({ length: 1000 }, (_, i) => `pre-${String(i).padStart(4, "0")}`);
    const tokens = new Map<string, string>();
    for (let i = 0; i < arrivals.length; i += 100) {
      // Sequential chunks: the arrival order is known (each chunk after the previous one).
      const chunk = arrivals.slice(i, i + 100);
      const results = await Promise.all(chunk.map((user) => enter(concert.id, user)));
      results.forEach((result, j) => {
        expect(result.statusCode).toBe(201);
        expect(result.body).toMatchObject({ status: "PRE_QUEUE", position: null });
        expect(result.body.etaSeconds).toBeGreaterThan(3500);
        tokens.set(chunk[j], result.body.token);
      });
    }
    // Entering again during the pre-queue: 200, same token, still PRE_QUEUE.
    const again = await enter(concert.id, arrivals[0]);
    expect(again).toMatchObject({ statusCode: 200, body: { token: tokens.get(arrivals[0]), status: "PRE_QUEUE" } });
    expect(await redis.zcard(k.waiting)).toBe(0);
    // The operator sees them waiting, in the PRE_QUEUE phase.
    expect(await client.call("queue.controls", { id: concert.id })).toMatchObject({ phase: "PRE_QUEUE", waiting: 1000, active: 0 });
    // No admission before the opening, whatever the rounds.
    await Promise.all([client.call("queue.admitTick", {}, { nodeID: "pre-a" }), client.call("queue.admitTick", {}, { nodeID: "pre-b" })]);
    expect(await redis.scard(k.pre)).toBe(1000);

    // The sale opens now; both nodes race the opening in their rounds.
    await updateConcert(em(), concert.id, { saleOpensAt: iso(-1000) });
    await new Promise((resolve) => setTimeout(resolve, 2100)); // the queue nodes' copy of the windows lapses
    const rounds = await Promise.all(
      ["pre-a", "pre-b", "pre-a", "pre-b"].map((nodeID) => client.call<{ rounds: Array<{ admitted: number }> }, unknown>("queue.admitTick", {}, { nodeID })),
    );
    // Nobody is admitted while the pre-queue is still being placed.
    for (const tick of rounds) for (const round of tick.rounds) expect(round.admitted).toBe(0);
    await eventually(async () => (await redis.scard(k.pre)) === 0, "pre-queue placed", 20_000);

    const order = await redis.zrange(k.waiting, 0, -1, "WITHSCORES");
    const placed = order.filter((_, i) => i % 2 === 0);
    const scores = order.filter((_, i) => i % 2 === 1).map(Number);
    expect(placed).toHaveLength(1000);
    expect(new Set(placed)).toEqual(new Set(arrivals));
    // Placed exactly once: scores PRE_BASE+1 .. PRE_BASE+1000, no gaps, no repeats.
    expect(scores).toEqual(Array.from({ length: 1000 }, (_, i) => PRE_BASE + i + 1));
    expect(placed).not.toEqual(arrivals);
    expect(Math.abs(rankCorrelation(placed, arrivals))).toBeLessThan(0.2);

    // Each user's own status is their place: a permutation of 1..1000.
    const positions = await Promise.all(arrivals.map(async (user) => (await status(user, tokens.get(user) as string)).position));
    expect([...positions].sort((a, b) => (a as number) - (b as number))).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));

    // Later arrivals: behind all of them, in arrival order.
    const late: Entry[] = [];
    for (let i = 0; i < 5; i++) late.push((await enter(concert.id, `late-${i}`)).body);
    expect(late.map((entry) => [entry.status, entry.position])).toEqual([0, 1, 2, 3, 4].map((i) => ["WAITING", 1001 + i]));

    // Admission resumes in the shuffled order.
    await client.call("queue.admitTick", {}, { nodeID: "pre-b" });
    const first = placed.slice(0, 100);
    const firstStatuses = await Promise.all(first.map((user) => status(user, tokens.get(user) as string)));
    expect(firstStatuses.every((s) => s.status === "ACTIVE")).toBe(true);
    expect((await status(placed[100], tokens.get(placed[100]) as string)).position).toBe(1);
  }, 60_000);

  it("two openers racing: one shuffles, the other is refused; a lease lost mid-way stops the stale opener", async () => {
    const concert = await addConcert(em(), { title: "Race", venue: "Hall", queueOpensAt: iso(-60_000), saleOpensAt: iso(3_600_000) });
    const store = new QueueStore(redis, prefix);
    const windows = { queueOpensMs: Date.now() - 60_000, saleOpensMs: Date.now() + 3_600_000 };
    for (let i = 0; i < 300; i++) await store.enter(concert.id, `race-${i}`, newNonce(), 60_000, windows);
    const a = new PreQueueOpener(redis, prefix, 15_000, 50);
    const b = new PreQueueOpener(redis, prefix, 15_000, 50);
    const results = await Promise.all([a.open(concert.id, "node-a"), b.open(concert.id, "node-b")]);
    expect(results.filter((r) => r.ran)).toHaveLength(1);
    expect(results.reduce((sum, r) => sum + r.placed, 0)).toBe(300);
    const k = queueKeys(prefix, concert.id);
    expect(await redis.zcard(k.waiting)).toBe(300);
    expect(await redis.scard(k.pre)).toBe(0);

    // A stale opener (its lease taken over) places nothing.
    const other = await addConcert(em(), { title: "Race 2", venue: "Hall", queueOpensAt: iso(-60_000), saleOpensAt: iso(3_600_000) });
    for (let i = 0; i < 10; i++) await store.enter(other.id, `stale-${i}`, newNonce(), 60_000, windows);
    const ko = queueKeys(prefix, other.id);
    await redis.set(ko.shuffleLease, "someone-else", "PX", 10_000);
    expect(await a.open(other.id, "node-a")).toMatchObject({ ran: false, placed: 0 });
    expect(await redis.scard(ko.pre)).toBe(10);
  });

  it("statistically: the first place is not biased to early arrivals (200 runs of 20)", async () => {
    const store = new QueueStore(redis, prefix);
    const opener = new PreQueueOpener(redis, prefix);
    const windows = { queueOpensMs: null, saleOpensMs: Date.now() + 3_600_000 };
    const runs = 200;
    const n = 20;
    const firstIndex = new Array<number>(n).fill(0);
    for (let run = 0; run < runs; run++) {
      const concertId = 1_000_000 + run; // Redis only: the store needs no catalog row
      for (let i = 0; i < n; i++) await store.enter(concertId, `s${i}`, newNonce(), 60_000, windows);
      await opener.open(concertId, "stats");
      const [head] = await redis.zrange(queueKeys(prefix, concertId).waiting, 0, 0);
      firstIndex[Number(head.slice(1))]++;
    }
    // Chi-square against uniform, 19 degrees of freedom: 43.8 is the 0.1 % critical value.
    const expected = runs / n;
    const chi2 = firstIndex.reduce((sum, observed) => sum + (observed - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(43.8);
    // And the earliest quarter of arrivals does not take the lead markedly more often than a quarter of the time.
    const earlyShare = firstIndex.slice(0, n / 4).reduce((a, b) => a + b, 0) / runs;
    expect(earlyShare).toBeLessThan(0.4);
  }, 60_000);
});
