/**
 * Waiting room v2 figures (issue 13, item 6, at the scale one shared 2-core machine allows):
 *   shuffle  — the opening shuffle of N pre-queue users (default 100,000): time, and the latency
 *              of admission rounds and status reads running beside it;
 *   sse      — C real HTTP SSE clients (default 10,000, in a child process) on one gateway while the queue
 *              admits `batch` users per second: p50/p99 from the admission round (Redis clock)
 *              to the client seeing ACTIVE, gateway RSS and CPU.
 * Real Redis (own key prefix, deleted afterwards). Run (both parts unless one is named):
 *   npm run bench -- stream [shuffle|sse] [--users N] [--clients C] [--batch B]
 *   npm exec -- ts-node --transpile-only bench/stream-measure.ts [shuffle|sse] [...]
 */
import type http from "node:http";
import { fork } from "node:child_process";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import Redis from "ioredis";
import { deleteKeys } from "./redis-keys";
import { ServiceBroker } from "moleculer";

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const named = argv.filter((a) => a === "shuffle" || a === "sse");
const runShuffle = named.length === 0 || named.includes("shuffle");
const runSse = named.length === 0 || named.includes("sse");
const prefix = `bench_stream_${randomBytes(3).toString("hex")}:`;
Object.assign(process.env, { REDIS_PREFIX: prefix, RATE_LIMIT_PER_MIN: "0", PORT: "0", QUEUE_ADMIT_INTERVAL_MS: "1000" });

/* eslint-disable @typescript-eslint/no-require-imports */
const { getConfig, resetConfig } = require("../lib/config") as typeof import("../lib/config");
resetConfig(); // the gateway's streams must use this run's prefix, even if the config was read before
const { QueueStore } = require("../modules/queue/queue-store") as typeof import("../modules/queue/queue-store");
const { PreQueueOpener } = require("../modules/queue/pre-queue-open") as typeof import("../modules/queue/pre-queue-open");
const { newNonce, signQueueToken } = require("../modules/queue/queue-token") as typeof import("../modules/queue/queue-token");
const { queueKeys } = require("../modules/queue/queue-keys") as typeof import("../modules/queue/queue-keys");
/* eslint-enable @typescript-eslint/no-require-imports */

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
};
const fmt = (values: number[]) => `p50 ${percentile(values, 50).toFixed(1)} ms, p99 ${percentile(values, 99).toFixed(1)} ms, max ${Math.max(...values).toFixed(1)} ms (n=${values.length})`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const policy = (batch: number) => ({ batch, activeMax: 10_000_000, activeTtlMs: 600_000, rateWindowMs: 60_000 });

async function enterMany(store: InstanceType<typeof QueueStore>, concertId: number, users: number, saleOpensMs: number | null) {
  const nonces: string[] = [];
  for (let i = 0; i < users; i += 1000) {
    const chunk = Array.from({ length: Math.min(1000, users - i) }, (_, j) => i + j);
    const entries = await Promise.all(chunk.map((n) => store.enter(concertId, `u${n}`, newNonce(), 60_000, { queueOpensMs: null, saleOpensMs })));
    for (const entry of entries) nonces.push((entry as { nonce: string }).nonce);
  }
  return nonces;
}

async function shuffle(redis: Redis, users: number) {
  const store = new QueueStore(redis, prefix);
  const concertId = 1;
  const t0 = Date.now();
  const nonces = await enterMany(store, concertId, users, Date.now() + 3_600_000);
  console.log(`shuffle: ${users} pre-queue entries in ${Date.now() - t0} ms`);
  const other = 2; // another concert admitted meanwhile: the admitter must stay responsive
  await enterMany(store, other, 2000, null);
  let running = true;
  const rounds: number[] = [];
  const reads: number[] = [];
  const admitter = (async () => {
    for (let i = 0; running; i++) {
      const s = performance.now();
      await store.admit(other, policy(10), `bench.${i}`);
      rounds.push(performance.now() - s);
      await sleep(50);
    }
  })();
  const poller = (async () => {
    while (running) {
      const n = Math.floor(Math.random() * users);
      const s = performance.now();
      await store.state(concertId, `u${n}`, nonces[n], 60_000);
      reads.push(performance.now() - s);
      await sleep(5);
    }
  })();
  await sleep(300);
  const s = performance.now();
  const result = await new PreQueueOpener(redis, prefix).open(concertId, "bench");
  const shuffleMs = performance.now() - s;
  await sleep(300);
  running = false;
  await Promise.all([admitter, poller]);
  console.log(`shuffle: ${result.placed} placed in ${shuffleMs.toFixed(0)} ms (chunks of 1,000, crypto.randomInt Fisher–Yates)`);
  console.log(`shuffle: admission rounds of another concert meanwhile: ${fmt(rounds)}`);
  console.log(`shuffle: status reads meanwhile: ${fmt(reads)}`);
}

async function stream(redis: Redis, clients: number, batch: number) {
  const ApiService = require("../services/api.service").default; // eslint-disable-line @typescript-eslint/no-require-imports
  const broker = new ServiceBroker({ nodeID: "stream-bench", transporter: null, logger: false, metrics: false });
  broker.createService(ApiService);
  await broker.start();
  const port = ((broker.getLocalService("api") as unknown as { server: http.Server }).server.address() as AddressInfo).port;
  const store = new QueueStore(redis, prefix);
  const concertId = 3;
  const nonces = await enterMany(store, concertId, clients, null);
  const secret = getConfig().queueTokenSecret;
  const tokens = nonces.map((nonce, n) => signQueueToken({ userId: `u${n}`, concertId, nonce }, secret));
  const child = fork(path.join(__dirname, `stream-clients${path.extname(__filename)}`), [], {
    execArgv: __filename.endsWith(".ts") ? ["-r", "ts-node/register/transpile-only"] : [],
  });
  const reply = <T>() =>
    new Promise<T>((resolve, reject) => {
      child.once("message", (m) => resolve(m as T));
      child.once("exit", (code, signal) => reject(new Error(`the client process exited (${code ?? signal})`)));
    });
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  child.send({ port, tokens });
  const connected = await reply<{ connected: number; ms: number }>();
  console.log(`stream: ${connected.connected} clients (a child process) connected with their first status in ${connected.ms} ms`);
  const hub = (broker.getLocalService("api") as unknown as { queueStreams: { stats(): { clients: number } } }).queueStreams;
  console.log(`stream: the gateway holds ${hub.stats().clients} streams on one subscription`);
  const keys = queueKeys(prefix, concertId).active;
  for (let i = 0; i < Math.ceil(clients / batch); i++) {
    await store.admit(concertId, policy(batch), `round.${i}`);
    await sleep(1000);
  }
  await sleep(1000);
  const cpu = process.cpuUsage(cpu0);
  const wallS = (Date.now() - t0) / 1000;
  const rssMb = process.memoryUsage().rss / 1048576;
  child.send("report");
  const seenActive = new Map((await reply<{ seen: Array<[number, number]> }>()).seen);
  const lags: number[] = [];
  const scores = await redis.zrange(keys, 0, -1, "WITHSCORES");
  for (let i = 0; i < scores.length; i += 2) {
    const n = Number(scores[i].slice(1));
    const admittedAt = Number(scores[i + 1]) - 600_000;
    const seen = seenActive.get(n);
    if (seen !== undefined) lags.push(seen - admittedAt);
  }
  console.log(`stream: ${seenActive.size}/${clients} saw ACTIVE at ${batch}/s; round → client ACTIVE: ${fmt(lags)}`);
  console.log(
    `stream: gateway process (and this script's Redis setup) RSS ${rssMb.toFixed(0)} MB, CPU ${(((cpu.user + cpu.system) / 1e6 / wallS) * 100).toFixed(0)} % of one core over ${wallS.toFixed(1)} s`,
  );
  await sleep(500);
  await broker.stop();
}

async function main() {
  const redis = new Redis(getConfig().redisUrl);
  try {
    if (runShuffle) await shuffle(redis, flag("--users", 100_000));
    if (runSse) await stream(redis, flag("--clients", 10_000), flag("--batch", 500));
  } finally {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
