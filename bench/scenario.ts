/** What every scenario gets and returns (bench/run.ts drives them; bench/scenarios/* implement them). */
import type { MikroORM } from "@mikro-orm/postgresql";
import type Redis from "ioredis";
import type { BenchUser } from "./fixtures";
import type { JsonClient } from "./http-client";
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
  targets: TargetSpec[];
  run(ctx: ScenarioContext): Promise<ScenarioOutcome>;
}
