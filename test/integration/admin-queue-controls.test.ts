import type Redis from "ioredis";
import type { ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import { createRedisClient } from "../../mixins/redis.mixin";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { createConcert } from "../../modules/catalog/catalog-writes";
import { queueAdmitLeaseKey, queueKeys } from "../../modules/queue/queue-keys";
import type { AdmissionRound } from "../../modules/queue/queue-store";
import ApiService from "../../services/api.service";
import AuthService from "../../services/auth.service";
import CatalogService from "../../services/catalog.service";
import QueueService from "../../services/queue.service";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { devToken, request } from "../support/http";
import { eventually } from "../support/queue-redis";

const INTERVAL_MS = 600;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The operator's queue controls with two nodes, each running the queue service and its scheduler
 * (nobody calls admitTick unless a test says so). The environment admits 1 per 600 ms.
 */
describe("operator queue controls (two queue nodes; real PostgreSQL, Redis, NATS)", () => {
  let nodeA: ServiceBroker;
  let nodeB: ServiceBroker;
  let redis: Redis;
  let prefix: string;
  let base: string;
  let admin: string;

  const newConcert = (title: string) => createConcert((nodeA.getLocalService("catalog") as unknown as OrmMethods).em(), title, "Hall");
  const view = (concertId: unknown, token: string | null = admin) =>
    request("GET", `${base}/admin/concerts/${concertId}/queue`, { token: token ?? undefined });
  const patch = (concertId: unknown, json: unknown, token: string | null = admin) =>
    request("PATCH", `${base}/admin/concerts/${concertId}/queue`, { token: token ?? undefined, json });
  const enterAll = (concertId: number, users: string[]) =>
    Promise.all(users.map((user) => nodeB.call("queue.enter", { concertId }, { meta: { user: { id: user } } })));
  const activeCount = (concertId: number) => redis.zcard(queueKeys(prefix, concertId).active);
  /** The recorded rounds of a concert: [node, admitted, Redis time]. */
  async function rounds(concertId: number): Promise<Array<{ node: string; admitted: number; at: number }>> {
    const raw = await redis.zrange(queueKeys(prefix, concertId).stats, 0, -1, "WITHSCORES");
    const out = [];
    for (let i = 0; i < raw.length; i += 2) {
      const [round, admitted] = raw[i].split(":");
      out.push({ node: round.split(".")[0], admitted: Number(admitted), at: Number(raw[i + 1]) });
    }
    return out;
  }
  const controlRows = async (concertId: number) =>
    (nodeA.getLocalService("catalog") as unknown as OrmMethods).em().execute("select * from queue_control where concert_id = ?", [concertId]);

  beforeAll(async () => {
    Object.assign(process.env, {
      QUEUE_ADMIT_INTERVAL_MS: String(INTERVAL_MS),
      QUEUE_ADMIT_BATCH: "1",
      QUEUE_ACTIVE_MAX: "1000",
      QUEUE_ACTIVE_TTL_S: "600",
    });
    resetConfig();
    prefix = getConfig().redisPrefix;
    nodeA = await startNode([ApiService, AuthService, CatalogService, QueueService], { nodeID: "ctl-a" });
    nodeB = await startNode([QueueService], { nodeID: "ctl-b" });
    base = apiUrl(nodeA);
    await waitForApiAliases(nodeA, ["queue.controls", "queue.updateControls", "auth.devToken"]);
    await eventually(async () => nodeA.registry.getActionEndpoints("queue.admitTick")?.count() === 2, "both queue nodes seen");
    admin = await devToken(base, "ctl_admin", ["admin"]);
    redis = createRedisClient();
  });
  afterAll(async () => {
    redis?.disconnect();
    await stopNodes(nodeB, nodeA);
  });

  it("shows the queue with the environment's defaults, its phase, and who was admitted in the last minute", async () => {
    const concertId = await newConcert("View Concert");
    const fresh = await view(concertId);
    expect(fresh.status).toBe(200);
    expect(fresh.body).toEqual({
      concertId,
      phase: "OPEN",
      paused: false,
      waiting: 0,
      active: 0,
      admitBatch: 1,
      admitIntervalMs: INTERVAL_MS,
      activeMax: 1000,
      admittedLastMinute: 0,
    });
    await enterAll(concertId, ["view-0", "view-1", "view-2", "view-3"]);
    await eventually(async () => (await activeCount(concertId)) >= 2, "two admitted by the schedulers");
    const later = (await view(concertId)).body;
    expect(later.waiting + later.active).toBe(4);
    expect(later.active).toBeGreaterThanOrEqual(2);
    // Nobody left or expired: everyone active was admitted within the last minute.
    expect(later.admittedLastMinute).toBe(later.active);

    const future = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();
    const closed = await request("POST", `${base}/admin/concerts`, {
      token: admin,
      json: { title: "Later", venue: "Hall", queueOpensAt: future(3_600_000), saleOpensAt: future(7_200_000) },
    });
    expect((await view(closed.body.id)).body).toMatchObject({ phase: "CLOSED" });
    const preQueue = await request("POST", `${base}/admin/concerts`, {
      token: admin,
      json: { title: "Pre", venue: "Hall", queueOpensAt: future(-60_000), saleOpensAt: future(3_600_000) },
    });
    expect((await view(preQueue.body.id)).body).toMatchObject({ phase: "PRE_QUEUE", waiting: 0 });
  });

  it("refuses bad requests and writes nothing: 401, 403, 404, 422", async () => {
    const concertId = await newConcert("Refusals Concert");
    expect((await view(concertId, null)).status).toBe(401);
    expect((await patch(concertId, { paused: true }, null)).status).toBe(401);
    const buyer = await devToken(base, "ctl_buyer");
    expect((await view(concertId, buyer)).body).toMatchObject({ code: 403, type: "FORBIDDEN" });
    expect((await patch(concertId, { paused: true }, buyer)).body).toMatchObject({ code: 403, type: "FORBIDDEN" });
    expect((await view(2_000_000_000)).body).toMatchObject({ code: 404, type: "CONCERT_NOT_FOUND" });
    expect((await patch(2_000_000_000, { paused: true })).body).toMatchObject({ code: 404, type: "CONCERT_NOT_FOUND" });
    expect((await view("abc")).status).toBe(422);

    for (const body of [
      {},
      { paused: "yes" },
      { paused: null },
      { admitBatch: 0 },
      { admitBatch: 1.5 },
      { admitBatch: "5" },
      { admitBatch: 100_001 },
      { admitIntervalMs: 99 },
      { admitIntervalMs: 3_600_001 },
      { activeMax: -1 },
      { pause: true },
      { paused: true, admitBatch: 0 },
    ]) {
      const refused = await patch(concertId, body);
      expect([JSON.stringify(body), refused.status, refused.body.type]).toEqual([JSON.stringify(body), 422, "VALIDATION_ERROR"]);
    }
    expect(await controlRows(concertId)).toEqual([]);
    expect(await controlRows(2_000_000_000)).toEqual([]);
    expect((await view(concertId)).body).toMatchObject({ paused: false, admitBatch: 1 });

    // A PATCH changes only what it names; null puts a number back to the environment default.
    expect((await patch(concertId, { admitBatch: 3, activeMax: 50 })).body).toMatchObject({ admitBatch: 3, activeMax: 50, paused: false });
    const reset = await patch(concertId, { activeMax: null });
    expect([reset.status, reset.body]).toEqual([200, expect.objectContaining({ admitBatch: 3, activeMax: 1000, admitIntervalMs: INTERVAL_MS })]);
    expect(await controlRows(concertId)).toEqual([expect.objectContaining({ paused: false, admit_batch: 3, active_max: null, admit_interval_ms: null })]);
  });

  it("pause stops admission on both nodes, resume admits again; the controls survive losing the queue's Redis state", async () => {
    const concertId = await newConcert("Pause Concert");
    const users = Array.from({ length: 30 }, (_, i) => `pause-${i}`);
    await enterAll(concertId, users);
    await eventually(async () => (await activeCount(concertId)) >= 1, "admission under way");

    const paused = await patch(concertId, { paused: true });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ concertId, paused: true, admitBatch: 1, admitIntervalMs: INTERVAL_MS, activeMax: 1000 });
    // Each node follows within one interval (its cached copy is at most that old); allow one round in flight.
    await sleep(INTERVAL_MS * 2 + 300);
    const frozen = await activeCount(concertId);
    const roundsBefore = (await rounds(concertId)).length;
    // Both nodes, asked directly (which ignores the interval), admit nobody.
    for (const nodeID of ["ctl-a", "ctl-b"]) {
      const tick = await nodeA.call<{ rounds: AdmissionRound[] }, unknown>("queue.admitTick", {}, { nodeID });
      expect(tick.rounds.find((r) => r.concertId === concertId)).toMatchObject({ ran: true, admitted: 0 });
    }
    await sleep(INTERVAL_MS * 5);
    expect(await activeCount(concertId)).toBe(frozen);
    const pausedRounds = (await rounds(concertId)).slice(roundsBefore);
    // The schedulers kept running rounds for the concert, admitting nobody in any of them.
    expect(pausedRounds.length).toBeGreaterThanOrEqual(4);
    expect(pausedRounds.every((r) => r.admitted === 0)).toBe(true);
    expect((await view(concertId)).body).toMatchObject({ paused: true, active: frozen, waiting: 30 - frozen });

    // Redis loses the concert's queue (as in a flush): the pause is in PostgreSQL and still holds.
    const keys = queueKeys(prefix, concertId);
    await redis.del(keys.seq, keys.waiting, keys.active, keys.tokens, keys.stats);
    await enterAll(concertId, users.slice(0, 5));
    await sleep(INTERVAL_MS * 3);
    expect(await activeCount(concertId)).toBe(0);
    expect((await view(concertId)).body).toMatchObject({ paused: true, waiting: 5, active: 0 });

    expect((await patch(concertId, { paused: false })).body).toMatchObject({ paused: false });
    await eventually(async () => (await activeCount(concertId)) >= 2, "admission resumed", INTERVAL_MS * 8);
  });

  it("a batch change is followed within one interval by whichever node runs the round", async () => {
    const concertId = await newConcert("Batch Concert");
    await enterAll(concertId, Array.from({ length: 80 }, (_, i) => `batch-${i}`));
    await eventually(async () => (await rounds(concertId)).some((r) => r.admitted === 1), "rounds of one");

    const changed = await patch(concertId, { admitBatch: 5 });
    expect(changed.body).toMatchObject({ admitBatch: 5, paused: false });
    const [{ now }] = await redis.time().then(([s, us]) => [{ now: Number(s) * 1000 + Math.floor(Number(us) / 1000) }]);
    await sleep(INTERVAL_MS * 6);
    const after = (await rounds(concertId)).filter((r) => r.at > now);
    // At most one round per node may still use the cached batch of 1 (within its interval); the rest admit 5.
    const late = after.filter((r) => r.at > now + INTERVAL_MS + 300);
    expect(late.length).toBeGreaterThanOrEqual(3);
    expect(late.every((r) => r.admitted === 5)).toBe(true);
    expect(after.filter((r) => r.admitted !== 5).length).toBeLessThanOrEqual(2);
  });

  it("each concert is admitted at its own interval, shorter or longer than the default, with one lease across nodes", async () => {
    const fast = await newConcert("Fast Concert");
    const slow = await newConcert("Slow Concert");
    expect((await patch(fast, { admitIntervalMs: 200 })).body).toMatchObject({ admitIntervalMs: 200 });
    expect((await patch(slow, { admitIntervalMs: 2000, admitBatch: 2 })).body).toMatchObject({ admitIntervalMs: 2000, admitBatch: 2 });
    await enterAll(fast, Array.from({ length: 60 }, (_, i) => `fast-${i}`));
    await enterAll(slow, Array.from({ length: 60 }, (_, i) => `slow-${i}`));
    await sleep(6000);

    const gaps = (list: Array<{ at: number }>) => list.slice(1).map((r, i) => r.at - list[i].at);
    const fastRounds = await rounds(fast);
    const slowRounds = await rounds(slow);
    // The slow concert: one round per ~2 s (never closer than its interval less a fifth of the 200 ms tick).
    expect(slowRounds.length).toBeGreaterThanOrEqual(2);
    expect(slowRounds.length).toBeLessThanOrEqual(4);
    for (const gap of gaps(slowRounds)) expect(gap).toBeGreaterThanOrEqual(2000 - 40 - 5);
    expect(slowRounds.every((r) => r.admitted === 2)).toBe(true);
    // The fast concert: rounds far more often than the 600 ms default (a loaded machine may skip some).
    expect(fastRounds.length).toBeGreaterThanOrEqual(12);
    for (const gap of gaps(fastRounds)) expect(gap).toBeGreaterThanOrEqual(200 * 0.8 - 5);
    // Rounds of both nodes share the lease (80 % of the 200 ms tick) and the per-concert check.
    expect(await redis.pttl(queueAdmitLeaseKey(prefix))).toBeLessThanOrEqual(160);
  });
});
