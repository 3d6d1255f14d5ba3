/**
 * The benchmark's baseline: a bare node:http + ioredis server that does the per-request work of
 * queue entry and queue status without the framework — verify the bearer JWT, run the very same
 * Lua scripts (modules/queue/queue-store.ts) and sign/verify the queue token — so that the ratio
 * "scenario req/s ÷ baseline req/s" shows what moleculer-web, the broker and the services cost.
 * Two more routes without auth: GET /noop (a constant 200: the generator's calibration) and
 * GET /bare/get/<name> (one Redis GET of <prefix>bare:<name>, sent as JSON: the seat map's baseline).
 * Run as a child process by bench/run.ts (env: PORT, REDIS_URL, REDIS_PREFIX, secrets).
 */
import http from "node:http";
import { bearerToken, verifyAccessToken } from "../lib/auth";
import { getConfig } from "../lib/config";
import { createRedisClient } from "../mixins/redis.mixin";
import { configuredRate, rateWindowMs } from "../modules/queue/queue-eta";
import { QueueStore } from "../modules/queue/queue-store";
import { statusView, type RateSettings } from "../modules/queue/queue-view";
import { newNonce, signQueueToken, verifyQueueToken } from "../modules/queue/queue-token";

const config = getConfig();
// The same client options as the services (auto-pipelining on).
const redis = createRedisClient(config.redisUrl);
const store = new QueueStore(redis, config.redisPrefix);
const windowMs = rateWindowMs(config.queueAdmitIntervalMs);
const rates: RateSettings = {
  admitIntervalMs: config.queueAdmitIntervalMs,
  fallbackRate: configuredRate(config.queueAdmitBatch, config.queueAdmitIntervalMs),
};
const ENTER_PATH = /^\/api\/concerts\/(\d+)\/queue$/;
const GET_PATH = /^\/bare\/get\/([\w:.-]+)$/;
const NOOP = Buffer.from("ok");

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(payload) });
  res.end(payload);
}

function fail(res: http.ServerResponse, status: number, type: string): void {
  send(res, status, { name: "Error", message: type, code: status, type });
}

function sendRaw(res: http.ServerResponse, json: string): void {
  res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(json) });
  res.end(json);
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const bare = req.method === "GET" ? GET_PATH.exec(req.url ?? "") : null;
  if (bare) {
    const value = await redis.get(`${config.redisPrefix}bare:${bare[1]}`);
    return value === null ? fail(res, 404, "NOT_FOUND") : sendRaw(res, value);
  }
  const token = bearerToken(req.headers.authorization);
  const user = token ? await verifyAccessToken(token, config.authJwtSecret) : null;
  const url = req.url ?? "/";
  if (url === "/health") return send(res, 200, { status: "ok" });
  if (!user) return fail(res, 401, "UNAUTHORIZED");
  const enter = req.method === "POST" ? ENTER_PATH.exec(url) : null;
  if (enter) {
    const concertId = Number(enter[1]);
    const entry = await store.enter(concertId, user.id, newNonce(), windowMs);
    const queueToken = signQueueToken({ userId: user.id, concertId, nonce: entry.nonce }, config.queueTokenSecret);
    return send(res, entry.created ? 201 : 200, { token: queueToken, ...statusView(entry, rates) });
  }
  if (req.method === "GET" && url === "/api/queue/me") {
    const claims = verifyQueueToken(req.headers["x-queue-token"], config.queueTokenSecret);
    if (!claims || claims.userId !== user.id) return fail(res, 401, "QUEUE_TOKEN_INVALID");
    const state = await store.state(claims.concertId, user.id, claims.nonce, windowMs);
    return send(res, 200, { concertId: claims.concertId, ...statusView(state, rates) });
  }
  return fail(res, 404, "NOT_FOUND");
}

const server = http.createServer((req, res) => {
  req.resume(); // no body needed; drain it
  if (req.url === "/noop") {
    res.writeHead(200, { "content-type": "text/plain", "content-length": NOOP.length });
    return res.end(NOOP);
  }
  handle(req, res).catch((err: Error) => {
    if (!res.headersSent) fail(res, 500, err.message);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(config.port, "127.0.0.1", () => console.log(`baseline listening on ${config.port}`));

function shutdown(): void {
  server.close();
  server.closeAllConnections();
  redis.quit().finally(() => process.exit(0));
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
