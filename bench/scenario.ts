/** What every scenario gets and returns (bench/run.ts drives them; bench/scenarios/* implement them). */
import type { MikroORM } from "@mikro-orm/postgresql";
import type Redis from "ioredis";
import type { CpuProbe } from "./cpu";
import type { BenchUser } from "./fixtures";
import type { JsonClient } from "./http-client";
import type { Generator, Loader } from "./load";
import type { InvariantOutcome, TargetSpec } from "./report";
import type { RunMetrics } from "./stats";
import type { BenchEnv, Mode } from "./system";

export interface BenchOptions {
  connections: number;
  /** Seconds of each measured run of the duration-based scenarios. */
  durationS: number;
  runs: number;
  /** Seconds of the unmeasured warm-up before the runs. */
  warmupS: number;
  /** Load generator of the fixed-request scenarios (wrk unless missing or --generator autocannon). */
  generator: Generator;
  /** wrk threads. */
  threads: number;
}

export interface ScenarioContext {
  mode: Mode;
  env: BenchEnv;
  options: BenchOptions;
  /** Gateway base URL, e.g. http://127.0.0.1:41234 (paths start with /api). */
  apiUrl: string;
  baselineUrl: string;
  standinUrl: string;
  /** Keep-alive client to the gateway for setup steps. */
  client: JsonClient;
  orm: MikroORM;
  redis: Redis;
  /** Pre-minted users; each scenario run uses fresh concerts, so users can be reused across runs. */
  users: BenchUser[];
  /** One load run with the configured generator, CPU per process attached (bench/load.ts). */
  load: Loader;
  /** CPU seconds of the processes, for drivers that do not go through `load` (the journey). */
  cpu: CpuProbe;
  /** Redis key prefix of the baseline server (its bare GET reads `<prefix>bare:<name>`). */
  baselinePrefix: string;
  /** Unique, growing number for titles and idempotency keys. */
  nextTag(): number;
  log(message: string): void;
}

/** A payment a scenario made, for the delivery check and the payment → data platform latency. */
export interface PaymentMade {
  paymentId: number;
  paidAt: string;
}

export interface ScenarioOutcome {
  runs: RunMetrics[];
  /** Checks specific to the scenario (e.g. exactly 50 winners per race). */
  invariants: InvariantOutcome[];
}

export interface Scenario {
  id: string;
  number: number;
  title: string;
  /** What the scenario's ratio divides by (the paired bare server), if it has one. */
  ratioTo?: string;
  targets: TargetSpec[];
  run(ctx: ScenarioContext): Promise<ScenarioOutcome>;
}
