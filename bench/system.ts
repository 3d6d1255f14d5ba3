/**
 * The system under test as child processes: "single" = one node running every service, "split" =
 * a gateway node (api, auth) and a worker node (every other service) over NATS; plus the
 * data-platform stand-in and the baseline server. Each benchmark run gets its own database, Redis
 * prefix, Moleculer namespace and Kafka topics, so it can run beside tests and a running system.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { BenchProcess, freePort, waitUntil } from "./processes";
import { JsonClient } from "./http-client";

export type Mode = "single" | "split";

export const ROOT = path.resolve(__dirname, "../..");
const RUNNER = path.join(ROOT, "node_modules/moleculer/bin/moleculer-runner.js");
const SERVICE_DIR = "dist/services";

export interface BenchEnv {
  runId: string;
  mode: Mode;
  databaseUrl: string;
  redisPrefix: string;
  namespace: string;
  authSecret: string;
  queueSecret: string;
  topic: string;
  dlqTopic: string;
  standinPort: number;
}

export function benchEnv(runId: string, mode: Mode, baseDatabaseUrl: string, standinPort: number): BenchEnv {
  const database = new URL(baseDatabaseUrl);
  database.pathname = `/concert_bench_${runId}_${mode}`;
  return {
    runId,
    mode,
    databaseUrl: database.toString(),
    redisPrefix: `bench:${runId}:${mode}:`,
    namespace: `bench-${runId}-${mode}`,
    authSecret: `bench-auth-${runId}-padded-to-32-bytes-or-more`, // production refuses shorter keys
    queueSecret: `bench-queue-${runId}-padded-to-32-bytes-or-more`,
    topic: `bench.${runId}.${mode}.payment.completed`,
    dlqTopic: `bench.${runId}.${mode}.payment.completed.dlq`,
    standinPort,
  };
}

/** Environment of every child: the system's configuration for this run (SPEC §6 variables). */
export function childEnv(env: BenchEnv, extra: Record<string, string>): NodeJS.ProcessEnv {
  const base = { ...process.env };
  delete base.SERVICES;
  delete base.SERVICEDIR;
  return {
    ...base,
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    AUTH_JWT_SECRET: env.authSecret,
    QUEUE_TOKEN_SECRET: env.queueSecret,
    DATABASE_URL: env.databaseUrl,
    REDIS_PREFIX: env.redisPrefix,
    NAMESPACE: env.namespace,
    RATE_LIMIT_PER_MIN: "0",
    // Admission fast enough that a journey waits about one round, room for every bench user.
    QUEUE_ADMIT_INTERVAL_MS: "100",
    QUEUE_ADMIT_BATCH: "1000",
    QUEUE_ACTIVE_MAX: "20000",
    KAFKA_TOPIC_PAYMENT_COMPLETED: env.topic,
    KAFKA_TOPIC_PAYMENT_COMPLETED_DLQ: env.dlqTopic,
    KAFKA_CONSUMER_GROUP: `bench-${env.runId}-${env.mode}-data-platform`,
    KAFKA_CLIENT_ID: `bench-${env.runId}-${env.mode}`,
    DATA_PLATFORM_URL: `http://127.0.0.1:${env.standinPort}`,
    DATA_PLATFORM_PORT: String(env.standinPort),
    ...extra,
  };
}

/** Service names of dist/services (file `x.service.js` → "x"). */
export function builtServices(): string[] {
  return readdirSync(path.join(ROOT, SERVICE_DIR))
    .filter((file) => file.endsWith(".service.js"))
    .map((file) => file.replace(/\.service\.js$/, ""))
    .sort();
}

export interface StartOptions {
  nodeArgs?: string[];
  echo?: boolean;
}

export interface RunningSystem {
  apiUrl: string;
  nodes: BenchProcess[];
}

function node(name: string, env: NodeJS.ProcessEnv, options: StartOptions, runnerArgs: string[]): BenchProcess {
  return new BenchProcess({
    name,
    script: RUNNER,
    args: ["--config", "dist/moleculer.config.js", ...runnerArgs],
    env,
    cwd: ROOT,
    // The node flags `npm start` uses (scripts/start.sh), then the bench's own (--node-arg wins).
    nodeArgs: [...memoryFlags(), ...(options.nodeArgs ?? [])],
    echo: options.echo,
  });
}

/** V8 heap limits of scripts/node-memory-flags, as `npm start` and the Dockerfile run a node. */
export function memoryFlags(): string[] {
  return readFileSync(path.join(ROOT, "scripts/node-memory-flags"), "utf8").trim().split(/\s+/).filter(Boolean);
}

export async function startSystem(env: BenchEnv, options: StartOptions = {}): Promise<RunningSystem> {
  const port = await freePort();
  const shared = { PORT: String(port) };
  if (env.mode === "single") {
    const all = node("system", childEnv(env, { ...shared, NODE_ID: `${env.namespace}-all`, METRICS_PORT: String(await freePort()) }), options, [SERVICE_DIR]);
    return { apiUrl: `http://127.0.0.1:${port}`, nodes: [all] };
  }
  const workerServices = builtServices().filter((s) => s !== "api" && s !== "auth");
  const gateway = node(
    "gateway",
    childEnv(env, { ...shared, NODE_ID: `${env.namespace}-gw`, SERVICES: "api,auth", SERVICEDIR: SERVICE_DIR, METRICS_PORT: String(await freePort()) }),
    options,
    [],
  );
  const worker = node(
    "worker",
    childEnv(env, {
      PORT: String(await freePort()),
      NODE_ID: `${env.namespace}-worker`,
      SERVICES: workerServices.join(","),
      SERVICEDIR: SERVICE_DIR,
      METRICS_PORT: String(await freePort()),
    }),
    options,
    [],
  );
  return { apiUrl: `http://127.0.0.1:${port}`, nodes: [gateway, worker] };
}

/** The probes that say a service answers through the gateway (no route yet = 404 NOT_FOUND / 503). */
function probes(concertId: number): Record<string, (c: JsonClient, auth: Record<string, string>) => Promise<boolean>> {
  return {
    catalog: async (c) => (await c.request("GET", "/api/concerts")).status === 200,
    queue: async (c, auth) => [200, 201].includes((await c.request("POST", `/api/concerts/${concertId}/queue`, { headers: auth })).status),
    points: async (c, auth) => (await c.request("GET", "/api/points", { headers: auth })).status === 200,
    ranking: async (c) => (await c.request("GET", "/api/rankings/concerts")).status === 200,
    reservations: async (c, auth) => (await c.request("POST", "/api/reservations", { headers: auth, body: {} })).status === 422,
    payments: async (c, auth) => (await c.request("POST", "/api/payments", { headers: auth, body: {} })).status === 422,
  };
}

/** Waits until every built service that has HTTP routes answers through the gateway. */
export async function waitReady(system: RunningSystem, authorization: string, probeConcertId: number, timeoutMs = 60_000): Promise<void> {
  const client = new JsonClient(system.apiUrl, 8);
  const auth = { authorization };
  const wanted = Object.entries(probes(probeConcertId)).filter(([service]) => builtServices().includes(service));
  try {
    await waitUntil(
      async () => {
        if (system.nodes.some((n) => !n.alive)) throw new Error("a node exited");
        const answers = await Promise.all(wanted.map(([, probe]) => probe(client, auth).catch(() => false)));
        return answers.every(Boolean);
      },
      timeoutMs,
      `the gateway to route ${wanted.map(([s]) => s).join(", ")}`,
      300,
    );
  } catch (err) {
    for (const n of system.nodes) process.stderr.write(`--- ${n.name} output ---\n${n.output()}\n`);
    throw err;
  } finally {
    client.close();
  }
}

export async function startStandin(env: BenchEnv, options: StartOptions = {}): Promise<BenchProcess> {
  const standin = new BenchProcess({
    name: "standin",
    script: "dist/scripts/data-platform-standin.js",
    env: childEnv(env, {}),
    cwd: ROOT,
    echo: options.echo,
  });
  const client = new JsonClient(`http://127.0.0.1:${env.standinPort}`, 2);
  await waitUntil(async () => (await client.request("GET", "/health")).status === 200, 30_000, "the data-platform stand-in");
  client.close();
  return standin;
}

export async function startBaseline(env: BenchEnv, options: StartOptions = {}): Promise<{ url: string; process: BenchProcess }> {
  const port = await freePort();
  const baseline = new BenchProcess({
    name: "baseline",
    script: "dist/bench/baseline-server.js",
    env: childEnv(env, { PORT: String(port), REDIS_PREFIX: `${env.redisPrefix}baseline:` }),
    cwd: ROOT,
    nodeArgs: options.nodeArgs,
    echo: options.echo,
  });
  const url = `http://127.0.0.1:${port}`;
  const client = new JsonClient(url, 2);
  await waitUntil(async () => (await client.request("GET", "/health")).status === 200, 30_000, "the baseline server");
  client.close();
  return { url, process: baseline };
}
