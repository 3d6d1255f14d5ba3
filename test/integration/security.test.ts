/**
 * Attacks on the running gateway (issue 16): forged, unsigned, expired and foreign bearer tokens;
 * identity-provider keys (PEM and JWKS); a production start with public or short secrets; spoofed
 * X-Forwarded-For with and without TRUST_PROXY; one limit over two gateway nodes; the limiter with
 * its Redis killed (a private redis-server child, never the shared one); hidden internals; headers;
 * CORS; expired and rotated queue tokens. Each gateway gets its own settings and rate-limit prefix.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ServiceBroker } from "moleculer";
import Redis from "ioredis";
import jwt from "jsonwebtoken";
import { exportJWK, SignJWT } from "jose";
import { loadConfig, resetConfig } from "../../lib/config";
import { freePort } from "../../lib/net";
import { signAccessToken } from "../../lib/auth";
import { gatewaySecurity } from "../../lib/gateway-security";
import { newNonce, signQueueToken } from "../../modules/queue/queue-token";
import { createConcert } from "../../modules/catalog/catalog-writes";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { apiUrl, startNode, stopNodes, waitForApiAliases, type AnyServiceSchema } from "../support/nodes";
import { request } from "../support/http";

const NEW_QUEUE_KEY = "queue-key-new-".padEnd(32, "n");
const OLD_QUEUE_KEY = "queue-key-old-".padEnd(32, "o");
process.env.QUEUE_TOKEN_SECRET = `${NEW_QUEUE_KEY},${OLD_QUEUE_KEY}`;
resetConfig();
const load = (name: string): AnyServiceSchema => require(`../../services/${name}.service`).default; // eslint-disable-line @typescript-eslint/no-require-imports
const ApiService = load("api");
const DEV_SECRET = loadConfig(process.env).authJwtSecret;
const ISSUER = "https://idp.example";
const AUDIENCE = "concert-api";
const nowS = () => Math.floor(Date.now() / 1000);

/** The gateway schema with its security settings built from `overrides` on top of this file's environment. */
function gateway(overrides: Record<string, string>): AnyServiceSchema {
  const security = gatewaySecurity(loadConfig({ ...process.env, ...overrides }));
  const settings = ApiService.settings as { routes: Array<Record<string, unknown>> };
  const routes = settings.routes.map((route) => (route.path === "/api" ? { ...route, use: security.use, rateLimit: security.rateLimit } : route));
  return { ...ApiService, settings: { ...settings, cors: security.cors, routes } };
}

describe("security: attacking the running gateway", () => {
  const ed = generateKeyPairSync("ed25519");
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  let jwks: Server;
  let redisPort: number;
  let redisChild: ChildProcess | undefined;
  let worker: ServiceBroker;
  const nodes: Record<string, ServiceBroker> = {};
  const base: Record<string, string> = {};
  let concertId: number;

  async function gatewayNode(name: string, overrides: Record<string, string>): Promise<void> {
    nodes[name] = await startNode([gateway(overrides)], { nodeID: `sec-${name}` });
    await waitForApiAliases(nodes[name], ["points.balance", "queue.enter", "auth.devToken"]);
    base[name] = apiUrl(nodes[name]);
  }

  beforeAll(async () => {
    const rsaJwk = { ...(await exportJWK(rsa.publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" };
    jwks = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [rsaJwk] })));
    await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
    redisPort = await freePort();
    redisChild = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    const probe = new Redis({ port: redisPort, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on("error", () => undefined);
    for (let attempt = 0; ; attempt++) {
      try {
        await probe.connect();
        break;
      } catch {
        if (attempt > 100) throw new Error("private redis-server did not start");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    probe.disconnect();

    worker = await startNode([load("auth"), load("catalog"), load("queue"), load("points")], { nodeID: "sec-worker" });
    concertId = await createConcert((worker.getLocalService("catalog") as unknown as OrmMethods).em(), "Secure Concert", "Hall S");
    const prefix = process.env.REDIS_PREFIX!;
    await gatewayNode("idp", {
      RATE_LIMIT_PER_MIN: "0",
      AUTH_JWT_ISSUER: ISSUER,
      AUTH_JWT_AUDIENCE: AUDIENCE,
      AUTH_JWT_PUBLIC_KEY: ed.publicKey.export({ type: "spki", format: "pem" }) as string,
      AUTH_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
    });
    await gatewayNode("plain", { RATE_LIMIT_PER_MIN: "4", RATE_LIMIT_STRICT_PER_MIN: "2", REDIS_PREFIX: `${prefix}plain:` });
    await gatewayNode("plain2", { RATE_LIMIT_PER_MIN: "4", RATE_LIMIT_STRICT_PER_MIN: "2", REDIS_PREFIX: `${prefix}plain:` });
    await gatewayNode("proxy", { RATE_LIMIT_PER_MIN: "3", TRUST_PROXY: "loopback", REDIS_PREFIX: `${prefix}proxy:` });
    await gatewayNode("insured", { RATE_LIMIT_PER_MIN: "3", REDIS_URL: `redis://127.0.0.1:${redisPort}`, REDIS_PREFIX: `${prefix}insured:` });
    await gatewayNode("cors", { RATE_LIMIT_PER_MIN: "0", CORS_ORIGINS: "https://tickets.example" });
  });
  afterAll(async () => {
    await stopNodes(...Object.values(nodes), worker);
    redisChild?.kill("SIGKILL");
    await new Promise((resolve) => jwks.close(resolve));
  });

  const points = (name: string, token: string, headers: Record<string, string> = {}) =>
    request("GET", `${base[name]}/points`, { headers: { ...headers, authorization: `Bearer ${token}` } });
  const idpClaims = { issuer: ISSUER, audience: AUDIENCE };

  describe("bearer tokens", () => {
    it.each([
      ["alg none", () => jwt.sign({ sub: "mallory", exp: nowS() + 60, iss: ISSUER, aud: AUDIENCE }, "", { algorithm: "none" })],
      ["another secret", () => signAccessToken("mallory", "not-the-secret-not-the-secret-xx", 60, [], idpClaims)],
      ["no exp", () => jwt.sign({ sub: "mallory", iss: ISSUER, aud: AUDIENCE }, DEV_SECRET)],
      ["expired (past the leeway)", () => signAccessToken("mallory", DEV_SECRET, -60, [], idpClaims)],
      ["a bad sub", () => signAccessToken("mall ory; drop", DEV_SECRET, 60, [], idpClaims)],
      ["another issuer", () => signAccessToken("mallory", DEV_SECRET, 60, [], { issuer: "https://evil.example", audience: AUDIENCE })],
      ["another audience", () => signAccessToken("mallory", DEV_SECRET, 60, [], { issuer: ISSUER, audience: "other-api" })],
      ["HS256 keyed with the public key", () => jwt.sign({ sub: "mallory", exp: nowS() + 60, iss: ISSUER, aud: AUDIENCE }, ed.publicKey.export({ type: "spki", format: "pem" }) as string)],
      ["not a JWT", () => "abc.def"],
    ])("refuses %s with 401 UNAUTHORIZED, also on a public route", async (_label, token) => {
      const response = await points("idp", token());
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({ code: 401, type: "UNAUTHORIZED" });
      expect((await request("GET", `${base.idp}/concerts`, { token: token() })).status).toBe(401);
    });

    it("accepts the identity provider's EdDSA (PEM) and RS256 (JWKS) tokens, with roles from the token", async () => {
      const eddsa = await new SignJWT({ roles: ["admin"] }).setProtectedHeader({ alg: "EdDSA" }).setSubject("idp_ed").setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime("1m").sign(ed.privateKey);
      expect(await points("idp", eddsa)).toMatchObject({ status: 200, body: { userId: "idp_ed" } });
      const rs256 = jwt.sign({ sub: "idp_rsa", exp: nowS() + 60 }, rsa.privateKey, { algorithm: "RS256", keyid: "rsa-1", issuer: ISSUER, audience: AUDIENCE });
      expect(await points("idp", rs256)).toMatchObject({ status: 200, body: { userId: "idp_rsa" } });
      // The same claims signed by anyone else's key are refused.
      const forged = jwt.sign({ sub: "idp_rsa", exp: nowS() + 60 }, generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey, { algorithm: "RS256", keyid: "rsa-1", issuer: ISSUER, audience: AUDIENCE });
      expect((await points("idp", forged)).status).toBe(401);
      // A role claimed in the request rather than the token grants nothing.
      const plain = signAccessToken("idp_hs", DEV_SECRET, 60, [], idpClaims);
      const adminView = (token: string) => request("GET", `${base.idp}/admin/concerts/${concertId}/queue`, { token, headers: { "x-roles": "admin" } });
      expect((await adminView(plain)).status).toBe(403);
      expect((await adminView(eddsa)).status).toBe(200);
    });
  });

  it.each([
    ["a development default", "dev-only-auth-secret-change-me", /public development default/],
    ["a short secret", "short", /at least 32 bytes/],
  ])("refuses to start in production with %s", async (_label, secret, message) => {
    // Not spawnSync: blocking this process would stall the heartbeats of the nodes it runs.
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", 'require("./services/api.service")'], {
      cwd: `${__dirname}/../..`,
      env: { ...process.env, NODE_ENV: "production", AUTH_JWT_SECRET: secret, QUEUE_TOKEN_SECRET: "q".repeat(40) },
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).not.toBe(0);
    expect(stderr).toMatch(message);
  });

  describe("rate limits", () => {
    const concerts = (name: string, headers: Record<string, string> = {}) => request("GET", `${base[name]}/concerts`, { headers });

    it("without TRUST_PROXY, a spoofed X-Forwarded-For does not buy a new budget", async () => {
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await concerts("plain", { "x-forwarded-for": `198.51.100.${i}` })).status);
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    });

    it("with TRUST_PROXY, counts the forwarded client, whatever it prepends", async () => {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await concerts("proxy", { "x-forwarded-for": `6.6.6.${i}, 198.51.100.7` })).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const limited = await concerts("proxy", { "x-forwarded-for": "198.51.100.7" });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
      expect((await concerts("proxy", { "x-forwarded-for": "198.51.100.8" })).status).toBe(200);
    });

    it("shares one user's budget over two gateway nodes, and the strict routes have a smaller one", async () => {
      const user = signAccessToken("shared_user", DEV_SECRET);
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await request("GET", `${base[i % 2 ? "plain2" : "plain"]}/points`, { token: user })).status);
      expect(statuses).toEqual([200, 200, 200, 200, 429]);
      const minter = signAccessToken("minter", DEV_SECRET);
      const mint = () => request("POST", `${base.plain2}/auth/dev-token`, { token: minter, json: { userId: "x" } });
      const [first, second, third] = [await mint(), await mint(), await mint()];
      expect([first.status, second.status, third.status]).toEqual([200, 200, 429]);
      expect(third.body).toMatchObject({ code: 429 });
      expect(third.headers.get("x-rate-limit-limit")).toBe("2");
      expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(Number(third.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    });

    it("keeps limiting in memory while its Redis is down (never fails open)", async () => {
      expect((await concerts("insured")).status).toBe(200);
      redisChild!.kill("SIGKILL");
      await new Promise((resolve) => setTimeout(resolve, 300));
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await concerts("insured")).status);
      expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
      expect(statuses.slice(3)).toEqual([429, 429]);
    });
  });

  describe("surface", () => {
    it.each([
      ["GET", "/list-aliases"],
      ["GET", "/list-aliases?withActionSchema=true"],
      ["POST", "/queue/admitTick"],
      ["GET", "/catalog/getConcert?concertId=1"],
      ["GET", "/$node/services"],
      ["GET", "/~node/actions"],
      ["POST", "/api/addRoute"],
    ])("%s %s is not served (404)", async (method, path) => {
      const response = await request(method, `${base.idp}${path}`);
      expect(response.status).toBe(404);
      expect(JSON.stringify(response.body)).not.toMatch(/actionName|fullPath/);
    });

    it("sends the security headers on every response, errors and unknown routes included", async () => {
      for (const url of [`${base.idp}/concerts`, `${base.idp}/nope`, `${base.idp.replace(/\/api$/, "")}/elsewhere`, `${base.idp}/points`]) {
        const { headers } = await request("GET", url);
        expect(headers.get("x-content-type-options")).toBe("nosniff");
        expect(headers.get("x-frame-options")).toBe("DENY");
        expect(headers.get("referrer-policy")).toBe("no-referrer");
        expect(headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
        expect(headers.get("x-request-id")).toBeTruthy();
      }
    });

    it("refuses CORS preflights by default, and allows only a configured origin", async () => {
      const preflight = (name: string, origin: string) =>
        request("OPTIONS", `${base[name]}/points/charge`, { headers: { origin, "access-control-request-method": "POST" } });
      const refused = await preflight("idp", "https://tickets.example");
      expect(refused.status).toBe(403);
      expect(refused.headers.get("access-control-allow-origin")).toBeNull();
      const allowed = await preflight("cors", "https://tickets.example");
      expect(allowed.status).toBe(204);
      expect(allowed.headers.get("access-control-allow-origin")).toBe("https://tickets.example");
      expect(allowed.headers.get("access-control-allow-headers")).toContain("X-Queue-Token");
      const evil = await preflight("cors", "https://evil.example");
      expect(evil.status).toBe(403);
      expect(evil.headers.get("access-control-allow-origin")).toBeNull();
    });
  });

  describe("queue tokens", () => {
    const status = (token: string, queueToken: string) => request("GET", `${base.cors}/queue/me`, { token, queueToken });

    it("refuses an expired token and accepts one signed with the old key during a rotation", async () => {
      const bearer = signAccessToken("rotating_user", DEV_SECRET);
      const entry = await request("POST", `${base.cors}/concerts/${concertId}/queue`, { token: bearer });
      expect(entry.status).toBe(201);
      expect(entry.headers.get("x-content-type-options")).toBe("nosniff");
      const payload = JSON.parse(Buffer.from(entry.body.token.split(".")[0], "base64url").toString()) as { n: string; e: number };
      expect(payload.e).toBeGreaterThan(nowS());
      expect((await status(bearer, entry.body.token)).status).toBe(200);
      const claims = { userId: "rotating_user", concertId, nonce: payload.n };
      expect((await status(bearer, signQueueToken(claims, OLD_QUEUE_KEY))).status).toBe(200);
      expect((await status(bearer, signQueueToken(claims, "retired-key".padEnd(32, "r")))).body).toMatchObject({ code: 401, type: "QUEUE_TOKEN_INVALID" });
      // The fresh token is signed with the new key only.
      expect(entry.body.token).toBe(signQueueToken(claims, NEW_QUEUE_KEY));
      const stale = signQueueToken({ ...claims, nonce: newNonce(Date.now() - 2 * 86_400_000) }, NEW_QUEUE_KEY);
      expect((await status(bearer, stale)).body).toMatchObject({ code: 401, type: "QUEUE_TOKEN_INVALID" });
    });
  });
});
