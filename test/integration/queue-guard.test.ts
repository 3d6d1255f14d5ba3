import type Redis from "ioredis";
import type { Context, ServiceBroker, ServiceSchema } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import { createRedisClient } from "../../mixins/redis.mixin";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { QueueGuardMixin } from "../../mixins/queue-guard.mixin";
import { createConcert } from "../../modules/catalog/catalog-writes";
import { signQueueToken, verifyQueueToken } from "../../modules/queue/queue-token";
import ApiService from "../../services/api.service";
import AuthService from "../../services/auth.service";
import CatalogService from "../../services/catalog.service";
import QueueService from "../../services/queue.service";
import { devToken, request } from "../support/http";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { activeQueueToken } from "../support/queue";
import { queueSnapshot } from "../support/queue-redis";

/** Things that belong to a concert, looked up asynchronously (like a schedule or a reservation). */
const thingConcerts = new Map<number, number>();

/** A service that only exists in this test: actions guarded by an ACTIVE queue token. */
const GuardedService: ServiceSchema = {
  name: "guarded",
  mixins: [QueueGuardMixin()],
  settings: { rest: "/guarded" },
  actions: {
    seats: {
      rest: "GET /concerts/:concertId/seats",
      auth: "required",
      params: { concertId: { type: "number", integer: true, positive: true, convert: true } },
      queueGuard: (ctx: Context<{ concertId: number }>) => ctx.params.concertId,
      handler: (ctx: Context<{ concertId: number }, { user: { id: string } }>) => ({ ok: true, user: ctx.meta.user.id }),
    },
    thing: {
      params: { thingId: { type: "number", integer: true, positive: true } },
      queueGuard: async (ctx: Context<{ thingId: number }>) => {
        await new Promise((resolve) => setImmediate(resolve));
        return thingConcerts.get(ctx.params.thingId)!;
      },
      handler: () => ({ ok: true }),
    },
    open: {
      params: {},
      handler: () => ({ ok: true }),
    },
    /** A resolver may answer null: this call needs no token (e.g. an idempotent replay). */
    replay: {
      params: { replay: "boolean" },
      queueGuard: (ctx: Context<{ replay: boolean }>) => (ctx.params.replay ? null : thingConcerts.get(1)!),
      handler: () => ({ ok: true }),
    },
  },
};

describe("queue guard mixin (real Redis, NATS, PostgreSQL)", () => {
  let node: ServiceBroker;
  let client: ServiceBroker;
  let redis: Redis;
  let base: string;
  let concertA: number;
  let concertB: number;
  let activeA: string;
  let activeB: string;
  let waitingB: string;

  const seats = (concertId: number, userId: string | undefined, queueToken?: string) =>
    client.call("guarded.seats", { concertId }, { meta: { user: userId ? { id: userId } : undefined, queueToken } });

  beforeAll(async () => {
    Object.assign(process.env, { QUEUE_ADMIT_INTERVAL_MS: "3600000", QUEUE_ACTIVE_MAX: "1" });
    resetConfig();
    node = await startNode([ApiService, AuthService, CatalogService, QueueService], { nodeID: "guard-core" });
    client = await startNode([GuardedService], { nodeID: "guard-client" });
    await client.waitForServices(["queue", "catalog"]);
    await waitForApiAliases(node, ["guarded.seats", "auth.devToken"]);
    base = apiUrl(node);
    redis = createRedisClient();
    const em = () => (node.getLocalService("catalog") as unknown as OrmMethods).em();
    [concertA, concertB] = [await createConcert(em(), "Guard A", "Hall"), await createConcert(em(), "Guard B", "Hall")];
    thingConcerts.set(1, concertA).set(2, concertB);
    // One active place per concert: the first user of each is admitted, "waiter" stays WAITING.
    activeA = await activeQueueToken(client, "ann", concertA);
    activeB = await activeQueueToken(client, "ben", concertB);
    waitingB = (await client.call<{ token: string }, unknown>("queue.enter", { concertId: concertB }, { meta: { user: { id: "waiter" } } })).token;
    await client.call("queue.admitTick");
  });
  afterAll(async () => {
    redis?.disconnect();
    await stopNodes(client, node);
  });

  it("lets the holder of an ACTIVE token of that concert through", async () => {
    await expect(seats(concertA, "ann", activeA)).resolves.toEqual({ ok: true, user: "ann" });
    await expect(client.call("guarded.thing", { thingId: 2 }, { meta: { user: { id: "ben" }, queueToken: activeB } })).resolves.toEqual({ ok: true });
  });

  it("answers 403 QUEUE_NOT_ACTIVE for a genuine token that is not ACTIVE, or no token", async () => {
    const status = await client.call<{ status: string }, unknown>("queue.status", {}, { meta: { user: { id: "waiter" }, queueToken: waitingB } });
    expect(status.status).toBe("WAITING");
    await expect(seats(concertB, "waiter", waitingB)).rejects.toMatchObject({ code: 403, type: "QUEUE_NOT_ACTIVE" });
    await expect(seats(concertB, "waiter")).rejects.toMatchObject({ code: 403, type: "QUEUE_NOT_ACTIVE" });
  });

  it("answers 401 for no user, and QUEUE_TOKEN_INVALID for forged, tampered, foreign and other-concert tokens", async () => {
    await expect(seats(concertA, undefined, activeA)).rejects.toMatchObject({ code: 401, type: "UNAUTHORIZED" });
    const secret = getConfig().queueTokenSecret;
    const claims = verifyQueueToken(activeA, secret)!;
    const [, signature] = activeA.split(".");
    const retargeted = Buffer.from(JSON.stringify({ u: "ann", c: concertB, n: claims.nonce })).toString("base64url");
    for (const [userId, token, concertId] of [
      ["ann", "garbage", concertA],
      ["ann", signQueueToken(claims, "not-the-secret"), concertA],
      ["ann", `${retargeted}.${signature}`, concertB],
      ["ben", activeA, concertA], // someone else's ACTIVE token
      ["ann", activeA, concertB], // ACTIVE, but for another concert
    ] as Array<[string, string, number]>) {
      await expect(seats(concertId, userId, token)).rejects.toMatchObject({ code: 401, type: "QUEUE_TOKEN_INVALID" });
    }
    // The async resolver: thing 2 belongs to concert B, ann's token is for A.
    await expect(client.call("guarded.thing", { thingId: 2 }, { meta: { user: { id: "ann" }, queueToken: activeA } })).rejects.toMatchObject({
      code: 401,
      type: "QUEUE_TOKEN_INVALID",
    });
  });

  it("guards only the actions that declare queueGuard, and not calls whose resolver answers null", async () => {
    await expect(client.call("guarded.open", {}, { meta: {} })).resolves.toEqual({ ok: true });
    const ann = { user: { id: "ann" } };
    await expect(client.call("guarded.replay", { replay: true }, { meta: ann })).resolves.toEqual({ ok: true });
    await expect(client.call("guarded.replay", { replay: false }, { meta: ann })).rejects.toMatchObject({ code: 403, type: "QUEUE_NOT_ACTIVE" });
    await expect(client.call("guarded.replay", { replay: true }, { meta: {} })).rejects.toMatchObject({ code: 401, type: "UNAUTHORIZED" });
  });

  it("validates params before the guard runs (422, not 401/403)", async () => {
    await expect(client.call("guarded.seats", { concertId: "abc" }, { meta: { user: { id: "ann" } } })).rejects.toMatchObject({ code: 422 });
    await expect(client.call("guarded.seats", { concertId: -1 }, { meta: { user: { id: "ann" }, queueToken: activeA } })).rejects.toMatchObject({
      code: 422,
    });
  });

  it("works through the gateway with X-Queue-Token, and stops working once the user leaves", async () => {
    const ann = await devToken(base, "ann");
    const ok = await request("GET", `${base}/guarded/concerts/${concertA}/seats`, { token: ann, queueToken: activeA });
    expect(ok).toMatchObject({ status: 200, body: { ok: true, user: "ann" } });
    const before = await queueSnapshot(redis, getConfig().redisPrefix);
    const foreign = await request("GET", `${base}/guarded/concerts/${concertB}/seats`, { token: ann, queueToken: activeA });
    expect(foreign).toMatchObject({ status: 401, body: { type: "QUEUE_TOKEN_INVALID" } });
    const none = await request("GET", `${base}/guarded/concerts/${concertA}/seats`, { token: ann });
    expect(none).toMatchObject({ status: 403, body: { type: "QUEUE_NOT_ACTIVE" } });
    expect(await queueSnapshot(redis, getConfig().redisPrefix)).toEqual(before);

    expect((await request("DELETE", `${base}/queue/me`, { token: ann, queueToken: activeA })).status).toBe(204);
    const after = await request("GET", `${base}/guarded/concerts/${concertA}/seats`, { token: ann, queueToken: activeA });
    expect(after).toMatchObject({ status: 403, body: { type: "QUEUE_NOT_ACTIVE" } });
  });
});
