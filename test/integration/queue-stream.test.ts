/**
 * GET /api/queue/stream (SPEC §8) with real HTTP, Redis and NATS: the status at once, pushes on
 * every change from one subscription per concert, keep-alive comments past the gateway's request
 * timeout, 401 for bad tokens with nothing written, idle places given back while an open stream
 * keeps its place, no leak after 1,000 connect/disconnect cycles, and a subscriber reconnect.
 */
import type Redis from "ioredis";
import type { ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import { createRedisClient } from "../../mixins/redis.mixin";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { addConcert } from "../../modules/catalog/catalog-writes";
import { queueKeys } from "../../modules/queue/queue-keys";
import { saveControls } from "../../modules/queue/queue-control-store";
import { newNonce, signQueueToken } from "../../modules/queue/queue-token";
import type { QueueStreamHub } from "../../modules/queue/stream-hub";
import AuthService from "../../services/auth.service";
import CatalogService from "../../services/catalog.service";
import QueueService from "../../services/queue.service";
import { apiUrl, startNode, stopNodes, waitForApiAliases, type AnyServiceSchema } from "../support/nodes";
import { devToken, request } from "../support/http";
import { eventually, queueSnapshot } from "../support/queue-redis";
import { openSse, type SseClient } from "../support/sse";

const INTERVAL_MS = 1000;
const ACTIVE_TTL_S = 600;

Object.assign(process.env, {
  QUEUE_ADMIT_INTERVAL_MS: String(INTERVAL_MS),
  QUEUE_ADMIT_BATCH: "1",
  QUEUE_ACTIVE_MAX: "100000",
  QUEUE_ACTIVE_TTL_S: String(ACTIVE_TTL_S),
  QUEUE_WAITING_IDLE_S: "3",
  QUEUE_STREAM_KEEPALIVE_MS: "300",
  HTTP_REQUEST_TIMEOUT_MS: "1000",
  RATE_LIMIT_PER_MIN: "0",
});
resetConfig();
// Loaded after the environment is set: the gateway reads its limits and timeouts when its schema is built.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ApiService: AnyServiceSchema = require("../../services/api.service").default;

describe("queue stream (SSE)", () => {
  let node: ServiceBroker;
  let base: string;
  let redis: Redis;
  let prefix: string;
  const opened: SseClient[] = [];

  const em = () => (node.getLocalService("catalog") as unknown as OrmMethods).em();
  const hub = () => (node.getLocalService("api") as unknown as { queueStreams: QueueStreamHub }).queueStreams;
  const enter = (concertId: number, userId: string) =>
    node.call<{ token: string; status: string; position: number | null }, unknown>("queue.enter", { concertId }, { meta: { user: { id: userId } } });
  async function stream(token: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = await openSse(`${base}/queue/stream?queueToken=${encodeURIComponent(token)}`, headers);
    opened.push(client);
    return client;
  }
  const last = (client: SseClient) => client.events[client.events.length - 1]?.data;
  const concertNamed = async (title: string, paused = false, windows: { queueOpensAt?: string; saleOpensAt?: string } = {}) => {
    const concert = await addConcert(em(), { title, venue: "Hall", ...windows });
    if (paused) await saveControls(em(), concert.id, { paused: true });
    return concert.id;
  };

  beforeAll(async () => {
    prefix = getConfig().redisPrefix;
    node = await startNode([ApiService, AuthService, CatalogService, QueueService], { nodeID: "sse-node" });
    base = apiUrl(node);
    await waitForApiAliases(node, ["auth.devToken", "queue.status", "queue.leave"]);
    redis = createRedisClient();
  });
  afterAll(async () => {
    for (const client of opened) client.close();
    redis?.disconnect();
    await stopNodes(node);
  });

  it("sends the status at once, then every change, and ACTIVE within one admission interval of the round", async () => {
    const concertId = await concertNamed("Push");
    const users = ["push-0", "push-1", "push-2", "push-3"];
    const tokens: string[] = [];
    for (const user of users) tokens.push((await enter(concertId, user)).token);
    const started = Date.now();
    const clients = await Promise.all(tokens.map((token) => stream(token)));
    for (const [i, client] of clients.entries()) {
      expect(client.status).toBe(200);
      expect(client.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
      expect(client.headers["x-content-type-options"]).toBe("nosniff");
      expect(client.headers["x-frame-options"]).toBe("DENY");
      await client.until(() => client.events.length > 0, "first status");
      expect(client.events[0].atMs - started).toBeLessThan(2000);
      expect(client.events[0]).toMatchObject({ event: "status" });
      // Some of those ahead may already be admitted; never a place behind the entry order.
      expect(client.events[0].data.position).toBeLessThanOrEqual(i + 1);
      expect(["WAITING", "ACTIVE"]).toContain(client.events[0].data.status);
    }
    const k = queueKeys(prefix, concertId);
    for (const [i, client] of clients.entries()) {
      await client.until(() => last(client)?.status === "ACTIVE", `${users[i]} ACTIVE`, 15_000);
      const admittedAtMs = Number(await redis.zscore(k.active, users[i])) - ACTIVE_TTL_S * 1000;
      const seenActive = client.events.find((e) => e.data.status === "ACTIVE") as { atMs: number; data: { expiresAt: string } };
      expect(seenActive.atMs - admittedAtMs).toBeLessThan(INTERVAL_MS);
      expect(seenActive.data).toEqual({
        status: "ACTIVE",
        position: 0,
        etaSeconds: 0,
        expiresAt: new Date(admittedAtMs + ACTIVE_TTL_S * 1000).toISOString(),
      });
    }
    // The last one saw its place fall, one push per round, never rise.
    const places = clients[3].events.filter((e) => e.data.status === "WAITING").map((e) => e.data.position as number);
    expect(places.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < places.length; i++) expect(places[i]).toBeLessThanOrEqual(places[i - 1]);
    expect(new Set(places).size).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it("refuses a forged, garbled, expired, missing or someone else's token with 401 and writes nothing", async () => {
    const concertId = await concertNamed("Refusals", true);
    const { token } = await enter(concertId, "ref-user");
    const secret = getConfig().queueTokenSecret;
    const expired = signQueueToken({ userId: "ref-user", concertId, nonce: newNonce(Date.now() - 20_000) }, secret, 5);
    const flipped = token.slice(0, -2) + (token.endsWith("AA") ? "BB" : "AA");
    const otherBearer = await devToken(base, "someone-else");
    const before = await queueSnapshot(redis, prefix);
    const clientsBefore = hub().stats().clients;
    const attempts: Array<[string, Record<string, string>]> = [
      [flipped, {}],
      ["garbage", {}],
      [expired, {}],
      ["", {}],
      [token, { authorization: `Bearer ${otherBearer}` }],
    ];
    for (const [candidate, headers] of attempts) {
      const client = await stream(candidate, headers);
      expect(client.status).toBe(401);
      expect(client.headers["x-content-type-options"]).toBe("nosniff");
      expect(await client.json()).toMatchObject({ code: 401, type: "QUEUE_TOKEN_INVALID" });
    }
    expect(await queueSnapshot(redis, prefix)).toEqual(before);
    expect(hub().stats().clients).toBe(clientsBefore);
  });

  it("keeps the stream open past HTTP_REQUEST_TIMEOUT_MS with keep-alive comments, and ends it with EXPIRED on leave", async () => {
    const concertId = await concertNamed("Pre-queue stream", false, { saleOpensAt: new Date(Date.now() + 3_600_000).toISOString() });
    const { token } = await enter(concertId, "pre-user");
    const client = await stream(token);
    await client.until(() => client.events.length > 0, "first status");
    expect(client.events[0].data).toMatchObject({ status: "PRE_QUEUE", position: null, expiresAt: null });
    expect(client.events[0].data.etaSeconds).toBeGreaterThan(3500);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(client.ended).toBe(false);
    expect(client.comments).toBeGreaterThanOrEqual(3);

    const bearer = await devToken(base, "pre-user");
    expect((await request("DELETE", `${base}/queue/me`, { token: bearer, queueToken: token })).status).toBe(204);
    await client.until(() => client.ended, "the stream ended");
    expect(last(client)).toEqual({ status: "EXPIRED", position: null, etaSeconds: null, expiresAt: null });
  });

  it("gives back the place of a silent waiting user, not of one with an open stream or one who polls (with Retry-After)", async () => {
    const concertId = await concertNamed("Idle", true);
    const silent = await enter(concertId, "idle-silent");
    const streamed = await enter(concertId, "idle-stream");
    const poller = await enter(concertId, "idle-poll");
    const client = await stream(streamed.token);
    await client.until(() => last(client)?.position === 2, "position 2");
    const pollBearer = await devToken(base, "idle-poll");
    const polls: Array<{ status: number; retryAfter: string | null; position: number }> = [];
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const me = await request("GET", `${base}/queue/me`, { token: pollBearer, queueToken: poller.token });
      polls.push({ status: me.status, retryAfter: me.headers.get("retry-after"), position: me.body.position });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await client.until(() => last(client)?.position === 1, "position 1 once the silent user is given back");
    const silentState = await node.call<{ status: string }, unknown>("queue.status", {}, { meta: { user: { id: "idle-silent" }, queueToken: silent.token } });
    expect(silentState.status).toBe("EXPIRED");
    expect(polls[polls.length - 1]).toEqual({ status: 200, retryAfter: "1", position: 2 });
    expect(client.ended).toBe(false);
  }, 20_000);

  it("frees everything after 1,000 connect/disconnect cycles: no client, subscription or listener left", async () => {
    for (const client of opened.splice(0)) client.close();
    await eventually(async () => hub().stats().clients === 0, "earlier streams closed");
    const concertId = await concertNamed("Cycles", true);
    const { token } = await enter(concertId, "cycle-user");
    const subscriber = (node.getLocalService("api") as unknown as { queueStreamSubscriber: Redis }).queueStreamSubscriber;
    const messageListeners = subscriber.listenerCount("message");
    const worker = async () => {
      for (let i = 0; i < 100; i++) {
        const client = await openSse(`${base}/queue/stream?queueToken=${encodeURIComponent(token)}`);
        await client.until(() => client.events.length > 0, "status");
        client.close();
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));
    await eventually(async () => hub().stats().clients === 0, "all clients gone");
    expect(hub().stats()).toEqual({ clients: 0, concerts: 0, channels: 0 });
    const [, subscribers] = (await redis.pubsub("NUMSUB", queueKeys(prefix, concertId).events)) as [string, number];
    expect(Number(subscribers)).toBe(0);
    expect(subscriber.listenerCount("message")).toBe(messageListeners);
    const server = (node.getLocalService("api") as unknown as { server: import("node:http").Server }).server;
    await eventually(
      () => new Promise<boolean>((resolve) => server.getConnections((_err, count) => resolve(count === 0))),
      "sockets closed",
    );
  }, 120_000);

  it("keeps pushing after the subscriber's Redis connection is killed (resubscribes, reads again)", async () => {
    const concertId = await concertNamed("Reconnect");
    const first = await enter(concertId, "rc-0");
    const second = await enter(concertId, "rc-1");
    const client = await stream(second.token);
    await client.until(() => client.events.length > 0, "first status");
    const list = (await redis.client("LIST")) as string;
    const line = list.split("\n").find((l) => l.includes("name=queue-streams:sse-node"));
    expect(line).toBeDefined();
    const id = /id=(\d+)/.exec(line as string)?.[1] as string;
    await redis.client("KILL", "ID", id);
    await client.until(() => last(client)?.status === "ACTIVE", "ACTIVE after the reconnect", 15_000);
    expect(first.token).not.toBe(second.token);
    await eventually(async () => hub().stats().channels === 1, "subscribed again");
  }, 30_000);
});
