/**
 * The error boundary end to end (SPEC §11), with a gateway node and a worker node on a private
 * Redis (a redis-server child of this test, never the machine's shared one): killed, every answer
 * to a guarded route is 503 SERVICE_UNAVAILABLE, Retry-After, dependency "redis", no driver text;
 * restarted, answers come back without restarting a node. A bug is a generic 500 with the request
 * id. Health names what is down, counts nodes and turns degraded when the worker stops.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Context, ServiceBroker, ServiceSchema } from "moleculer";
import Redis from "ioredis";
import { resetConfig } from "../../lib/config";
import { freePort } from "../../lib/net";
import { createConcert, createSchedule } from "../../modules/catalog/catalog-writes";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { apiUrl, startNode, stopNodes, waitForApiAliases, type AnyServiceSchema } from "../support/nodes";
import { devToken, request, type JsonResponse } from "../support/http";
import { activeQueueToken } from "../support/queue";

const DRIVER_TEXT = ["ECONNREFUSED", "MaxRetries", "ioredis", "at ", "/work/", "node_modules", "Connection is closed"];

/** A worker-side service whose action has a bug that mentions a file path. */
const BuggyService: ServiceSchema = {
  name: "buggy",
  settings: { rest: "/buggy" },
  actions: {
    boom: {
      rest: "GET /boom",
      params: {},
      handler(_ctx: Context) {
        throw new Error("ENOENT: no such file or directory, open '/work/main/secret.json'");
      },
    },
  },
};

function expectNoDriverText(response: JsonResponse): void {
  const text = JSON.stringify(response.body);
  for (const needle of DRIVER_TEXT) expect(text).not.toContain(needle);
}

describe("failing well: one error boundary, a Redis outage, truthful health", () => {
  let redisPort: number;
  let redisChild: ChildProcess | undefined;
  let gateway: ServiceBroker;
  let worker: ServiceBroker;
  let base: string;
  let concertId: number;
  let scheduleId: number;
  let bearer: string;
  let queueToken: string;

  async function startRedis(): Promise<void> {
    redisChild = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"], {
      stdio: "ignore",
    });
    const probe = new Redis({ port: redisPort, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on("error", () => undefined);
    for (let attempt = 0; ; attempt++) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        if (attempt > 100) throw new Error("private redis-server did not start");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  async function killRedis(): Promise<void> {
    const child = redisChild;
    redisChild = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  beforeAll(async () => {
    redisPort = await freePort();
    await startRedis();
    // The rate limiter's store fails open by itself; off here so each answer is the action's own.
    Object.assign(process.env, { REDIS_URL: `redis://127.0.0.1:${redisPort}`, RATE_LIMIT_PER_MIN: "0", QUEUE_ADMIT_INTERVAL_MS: "3600000" });
    resetConfig();
    const load = (name: string): AnyServiceSchema => require(`../../services/${name}.service`).default; // eslint-disable-line @typescript-eslint/no-require-imports
    gateway = await startNode([load("api"), load("auth")], { nodeID: "fw-gateway" });
    worker = await startNode([load("catalog"), load("queue"), BuggyService], { nodeID: "fw-worker" });
    base = apiUrl(gateway);
    await waitForApiAliases(gateway, ["queue.enter", "catalog.seatMap", "buggy.boom", "auth.devToken"]);
    const em = (worker.getLocalService("catalog") as unknown as OrmMethods).em();
    concertId = await createConcert(em, "Outage Concert", "Hall O");
    scheduleId = await createSchedule(em, concertId, new Date("2027-07-07T10:00:00Z"), 10);
    bearer = await devToken(base, "outage_user");
    queueToken = await activeQueueToken(worker, "outage_user", concertId);
  });
  afterAll(async () => {
    await stopNodes(gateway, worker);
    await killRedis();
  });

  const enterQueue = () => request("POST", `${base}/concerts/${concertId}/queue`, { token: bearer });
  const seatMap = () => request("GET", `${base}/schedules/${scheduleId}/seats`, { token: bearer, queueToken });

  it("answers a bug with a generic 500 that carries the request id, also sent as X-Request-Id", async () => {
    const response = await request("GET", `${base}/buggy/boom`);
    expect(response.status).toBe(500);
    expect(response.body).toMatchObject({ code: 500, type: "INTERNAL_ERROR", message: "Internal server error" });
    expect(response.body.data.requestId).toBe(response.headers.get("x-request-id"));
    expectNoDriverText(response);
    expect(JSON.stringify(response.body)).not.toContain("ENOENT");
    // A caller's own well-formed request id is kept.
    const traced = await request("GET", `${base}/buggy/boom`, { headers: { "x-request-id": "trace-abcdef123456" } });
    expect(traced.headers.get("x-request-id")).toBe("trace-abcdef123456");
    expect(traced.body.data.requestId).toBe("trace-abcdef123456");
  });

  it("serves the guarded routes while Redis is up", async () => {
    expect((await enterQueue()).status).toBe(200); // activeQueueToken entered already
    expect((await seatMap()).status).toBe(200);
  });

  it("answers 503 redis with Retry-After to every request while Redis is down, and health says so", async () => {
    await killRedis();
    const answers = [];
    for (let round = 0; round < 4; round++) {
      answers.push(...(await Promise.all([enterQueue(), seatMap(), enterQueue(), seatMap()])));
    }
    for (const response of answers) {
      expect({ status: response.status, body: response.body }).toMatchObject({
        status: 503,
        body: { code: 503, type: "SERVICE_UNAVAILABLE", data: { dependency: "redis" } },
      });
      expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(response.headers.get("x-request-id")).toBeTruthy();
      expectNoDriverText(response);
    }
    const health = await request("GET", `${base}/health`);
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: "degraded", checks: { redis: "down", postgres: "up", nats: "up" } });
  });

  it("answers again within seconds once Redis is back, without restarting a node", async () => {
    await startRedis();
    const backAt = Date.now();
    let entered: JsonResponse | undefined;
    while (Date.now() - backAt < 15_000) {
      entered = await enterQueue();
      if (entered.status !== 503) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // A new entry (201) when the private Redis kept nothing; 200 when it was restored from PostgreSQL.
    expect([200, 201]).toContain(entered?.status);
    expect(Date.now() - backAt).toBeLessThan(15_000);
    queueToken = await activeQueueToken(worker, "outage_user", concertId);
    expect((await seatMap()).status).toBe(200);
    const health = await request("GET", `${base}/health`);
    expect(health.body.checks.redis).toBe("up");
  });

  it("counts the worker's node in health, is degraded once it stops, and answers its routes 503", async () => {
    const before = await request("GET", `${base}/health`);
    expect(before.body.nodes).toEqual(
      expect.arrayContaining([
        { id: "fw-gateway", available: true, local: true },
        { id: "fw-worker", available: true, local: false },
      ]),
    );
    expect(before.body.services).toMatchObject({ auth: 1, catalog: 1, queue: 1 });
    await worker.stop();
    const deadline = Date.now() + 10_000;
    let after = await request("GET", `${base}/health`);
    while (after.body.services.catalog !== 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = await request("GET", `${base}/health`);
    }
    expect(after.status).toBe(503);
    expect(after.body).toMatchObject({ status: "degraded", services: { auth: 1, catalog: 0, queue: 0 } });
    const live = after.body.nodes.filter((n: { available: boolean }) => n.available).map((n: { id: string }) => n.id);
    expect(live).toEqual(["fw-gateway"]);
    // Its routes are gone from moleculer-web's alias table, but they are real endpoints: 503, not 404.
    await new Promise((resolve) => setTimeout(resolve, 1000)); // past the alias rebuild (debounced 500 ms)
    const orphan = await enterQueue();
    expect(orphan.status).toBe(503);
    expect(orphan.body).toMatchObject({ type: "SERVICE_UNAVAILABLE", data: { dependency: "service" } });
    expect((await request("GET", `${base}/no/such/route`)).status).toBe(404);
  });
});
