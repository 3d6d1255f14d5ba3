import { createHmac } from "node:crypto";
import type Redis from "ioredis";
import type { ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import { createRedisClient } from "../../mixins/redis.mixin";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { createConcert } from "../../modules/catalog/catalog-writes";
import { queueKeys } from "../../modules/queue/queue-keys";
import { signQueueToken, verifyQueueToken } from "../../modules/queue/queue-token";
import ApiService from "../../services/api.service";
import AuthService from "../../services/auth.service";
import CatalogService from "../../services/catalog.service";
import QueueService from "../../services/queue.service";
import { devToken, request } from "../support/http";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { queueSnapshot } from "../support/queue-redis";

/** The queue endpoints of SPEC §3 through the gateway. */
describe("queue HTTP API (real Redis, NATS, PostgreSQL)", () => {
  let node: ServiceBroker;
  let base: string;
  let redis: Redis;
  let prefix: string;
  let concertId: number;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    process.env.QUEUE_ADMIT_INTERVAL_MS = "3600000";
    resetConfig();
    prefix = getConfig().redisPrefix;
    node = await startNode([ApiService, AuthService, CatalogService, QueueService], { nodeID: "queue-http" });
    base = apiUrl(node);
    await waitForApiAliases(node, ["queue.enter", "queue.status", "queue.leave", "auth.devToken"]);
    redis = createRedisClient();
    concertId = await createConcert((node.getLocalService("catalog") as unknown as OrmMethods).em(), "HTTP Concert", "Web Hall");
    [alice, bob] = [await devToken(base, "alice"), await devToken(base, "bob")];
  });
  afterAll(async () => {
    redis?.disconnect();
    await stopNodes(node);
  });

  /** Runs a request and checks it left the queue's Redis state exactly as it was. */
  async function refusedWithoutWrites(method: string, path: string, options: Parameters<typeof request>[2], status: number, type: string) {
    const before = await queueSnapshot(redis, prefix);
    const response = await request(method, `${base}${path}`, options);
    expect(response.status).toBe(status);
    expect(response.body).toMatchObject({ code: status, type });
    expect(await queueSnapshot(redis, prefix)).toEqual(before);
    return response;
  }

  it("refuses bad entries with 401/404/422 and writes nothing", async () => {
    await refusedWithoutWrites("POST", `/concerts/${concertId}/queue`, {}, 401, "UNAUTHORIZED");
    await refusedWithoutWrites("POST", `/concerts/${concertId}/queue`, { token: "garbage" }, 401, "UNAUTHORIZED");
    await refusedWithoutWrites("POST", "/concerts/999999/queue", { token: alice }, 404, "CONCERT_NOT_FOUND");
    const invalid = await refusedWithoutWrites("POST", "/concerts/abc/queue", { token: alice }, 422, "VALIDATION_ERROR");
    expect(invalid.body.data[0]).toMatchObject({ field: "concertId" });
    await refusedWithoutWrites("POST", "/concerts/0/queue", { token: alice }, 422, "VALIDATION_ERROR");
    expect(await redis.exists(queueKeys(prefix, 999999).waiting, queueKeys(prefix, concertId).waiting)).toBe(0);
  });

  it("enters with 201, and again with 200, the same token and place", async () => {
    const first = await request("POST", `${base}/concerts/${concertId}/queue`, { token: alice });
    expect(first.status).toBe(201);
    expect(first.headers.get("location")).toBe("/api/queue/me");
    expect(first.body).toEqual({ token: expect.any(String), status: "WAITING", position: 1, etaSeconds: expect.any(Number), expiresAt: null });
    const again = await request("POST", `${base}/concerts/${concertId}/queue`, { token: alice });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const second = await request("POST", `${base}/concerts/${concertId}/queue`, { token: bob });
    expect(second).toMatchObject({ status: 201, body: { status: "WAITING", position: 2 } });
    expect(await redis.zrange(queueKeys(prefix, concertId).waiting, 0, -1)).toEqual(["alice", "bob"]);
  });

  it("GET /queue/me shows the place, then ACTIVE with its expiry after admission", async () => {
    const { body: entry } = await request("POST", `${base}/concerts/${concertId}/queue`, { token: bob });
    const waiting = await request("GET", `${base}/queue/me`, { token: bob, queueToken: entry.token });
    expect(waiting.status).toBe(200);
    expect(waiting.body).toEqual({ concertId, status: "WAITING", position: 2, etaSeconds: expect.any(Number), expiresAt: null });

    await node.call("queue.admitTick");
    const active = await request("GET", `${base}/queue/me`, { token: bob, queueToken: entry.token });
    expect(active.body).toMatchObject({ concertId, status: "ACTIVE", position: 0, etaSeconds: 0 });
    const ttlMs = getConfig().queueActiveTtlS * 1000;
    const score = Number(await redis.zscore(queueKeys(prefix, concertId).active, "bob"));
    expect(active.body.expiresAt).toBe(new Date(score).toISOString());
    expect(score).toBeGreaterThan(Date.now() + ttlMs - 60_000);
  });

  it("refuses missing, tampered, forged and other users' queue tokens with 401", async () => {
    const { body: entry } = await request("POST", `${base}/concerts/${concertId}/queue`, { token: alice });
    const secret = getConfig().queueTokenSecret;
    const claims = verifyQueueToken(entry.token, secret)!;
    const [payload, signature] = entry.token.split(".");
    const otherConcertPayload = Buffer.from(JSON.stringify({ u: "alice", c: concertId + 1, n: claims.nonce })).toString("base64url");
    const bad: Array<[string, string | undefined, string]> = [
      ["missing", undefined, alice],
      ["garbage", "not-a-token", alice],
      ["tampered payload", `${otherConcertPayload}.${signature}`, alice],
      ["tampered signature", `${payload}.${createHmac("sha256", "x").update(payload).digest("base64url")}`, alice],
      ["forged with another secret", signQueueToken(claims, "not-the-secret"), alice],
      ["alice's token used by bob", entry.token, bob],
    ];
    for (const [label, queueToken, bearer] of bad) {
      for (const method of ["GET", "DELETE"]) {
        const response = await refusedWithoutWrites(method, "/queue/me", { token: bearer, queueToken }, 401, "QUEUE_TOKEN_INVALID");
        expect([label, response.status]).toEqual([label, 401]);
      }
    }
    await refusedWithoutWrites("GET", "/queue/me", { queueToken: entry.token }, 401, "UNAUTHORIZED");
    await refusedWithoutWrites("DELETE", "/queue/me", { queueToken: entry.token }, 401, "UNAUTHORIZED");
  });

  it("DELETE /queue/me leaves with 204: the token is EXPIRED and the place is freed", async () => {
    const { body: entry } = await request("POST", `${base}/concerts/${concertId}/queue`, { token: alice });
    const left = await request("DELETE", `${base}/queue/me`, { token: alice, queueToken: entry.token });
    expect(left.status).toBe(204);
    expect(left.body).toBeNull();
    const keys = queueKeys(prefix, concertId);
    expect(await redis.zscore(keys.waiting, "alice")).toBeNull();
    expect(await redis.zscore(keys.active, "alice")).toBeNull();
    expect(await redis.hexists(keys.tokens, "alice")).toBe(0);

    const after = await request("GET", `${base}/queue/me`, { token: alice, queueToken: entry.token });
    expect(after).toMatchObject({ status: 200, body: { concertId, status: "EXPIRED", position: null, etaSeconds: null, expiresAt: null } });
    // Leaving twice is harmless.
    expect((await request("DELETE", `${base}/queue/me`, { token: alice, queueToken: entry.token })).status).toBe(204);

    // Coming back is a new entry at the back, with a new token; the old one stays EXPIRED.
    const back = await request("POST", `${base}/concerts/${concertId}/queue`, { token: alice });
    expect(back.status).toBe(201);
    expect(back.body.token).not.toBe(entry.token);
    expect(back.body).toMatchObject({ status: "WAITING", position: 1 });
    expect((await request("GET", `${base}/queue/me`, { token: alice, queueToken: entry.token })).body.status).toBe("EXPIRED");
    expect(await redis.get(keys.seq)).toBe("3");
  });
});
