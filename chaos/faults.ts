/**
 * The faults, one at a time. `inject` starts the fault and returns once it has ended (the component
 * is back); what it returns computes the fault's own checks from the buyers' records afterwards.
 */
import type { Cluster } from "./cluster";
import type { Infra } from "./infra";
import { check, killBudget } from "./metrics";
import { NODE_REQUEST_TIMEOUT_MS, type ChaosOptions, type FaultId } from "./options";
import { sleep } from "./procs";
import type { StandIn } from "./standin";
import type { InvariantResult, ResponseRecord } from "./types";

export interface FaultContext {
  infra: Infra;
  cluster: Cluster;
  standin: StandIn;
  options: ChaosOptions;
  /** ms since the run's epoch. */
  now(): number;
  note(text: string): void;
}

export type LaterChecks = (records: ResponseRecord[]) => InvariantResult[];

export interface Fault {
  id: FaultId;
  title: string;
  /** Redis/PostgreSQL: SPEC §11's "dependency down" answer rules apply. */
  dependency: boolean;
  inject(ctx: FaultContext): Promise<LaterChecks>;
}

const none: LaterChecks = () => [];

const workerKill: Fault = {
  id: "worker-kill",
  title: "kill -9 of a worker",
  dependency: false,
  async inject(ctx) {
    const victim = ctx.cluster.workerIds[1];
    const killAt = ctx.now();
    await ctx.cluster.kill9(victim);
    // How long the gateway keeps routing to the dead node (SPEC §11: dropped within 5 s).
    let droppedMs: number | null = null;
    while (ctx.now() - killAt < ctx.options.killObserveMs) {
      const seen = await ctx.cluster.gatewaySees().catch(() => undefined);
      if (seen && !seen.includes(victim)) {
        droppedMs = ctx.now() - killAt;
        break;
      }
      await sleep(100);
    }
    ctx.note(`worker dropped by the gateway after ${droppedMs ?? "more than " + ctx.options.killObserveMs} ms`);
    await sleep(Math.max(0, killAt + ctx.options.killObserveMs - ctx.now()));
    await ctx.cluster.restartNode(victim);
    const readyMs = await ctx.cluster.waitReady(90_000);
    ctx.note(`restarted worker served again after ${readyMs} ms`);
    return (records) => [
      check("§11 killed node dropped by the gateway within 5 s", droppedMs !== null && droppedMs <= 5000, `dropped after ${droppedMs ?? "> " + ctx.options.killObserveMs} ms`),
      ...killBudget(records, killAt, ctx.options.killObserveMs, NODE_REQUEST_TIMEOUT_MS),
    ];
  },
};

function outage(id: FaultId, title: string, dependency: boolean, down: (ctx: FaultContext) => Promise<void>, up: (ctx: FaultContext) => Promise<void>, downMs: (o: ChaosOptions) => number): Fault {
  return {
    id,
    title,
    dependency,
    async inject(ctx) {
      await down(ctx);
      await sleep(downMs(ctx.options));
      const started = ctx.now();
      await up(ctx);
      ctx.note(`${id} back after ${ctx.now() - started} ms of start-up`);
      return none;
    },
  };
}

const kafka = outage("kafka", "Kafka stopped", false, (c) => c.infra.kafka.stop(), (c) => c.infra.kafka.start(), (o) => o.kafkaDownMs);
const redis = outage("redis", "Redis restart (data lost)", true, (c) => c.infra.redis.stop(), (c) => c.infra.redis.start(), (o) => o.redisDownMs);
const nats = outage("nats", "NATS restart", false, (c) => c.infra.nats.stop(), (c) => c.infra.nats.start(), (o) => o.natsDownMs);
const postgres = outage("postgres", "PostgreSQL restart", true, (c) => c.infra.postgres.stop(), (c) => c.infra.postgres.start(), (o) => o.postgresDownMs);

const standin: Fault = {
  id: "standin",
  title: "data platform 50% failing, then down",
  dependency: false,
  async inject(ctx) {
    await ctx.standin.setFaults({ failRate: 0.5 });
    await sleep(ctx.options.standinFailMs);
    await ctx.standin.stop();
    ctx.note(`stand-in down (connection refused) for ${ctx.options.standinDownMs} ms; old retry budget ≈ ${ctx.options.maxAttempts} × ${ctx.options.retryMaxMs} ms`);
    await sleep(ctx.options.standinDownMs);
    await ctx.standin.start();
    return none;
  },
};

export const FAULTS: Record<FaultId, Fault> = { "worker-kill": workerKill, kafka, redis, nats, postgres, standin };
