/**
 * Every timing of the chaos suite, in two profiles: "full" (`npm run chaos`) and "short" (the CI's
 * jest project). Any field can be overridden by CHAOS_<FIELD_IN_UPPER_SNAKE> (integers, ms unless
 * named otherwise), e.g. CHAOS_KAFKA_DOWN_MS=60000; CHAOS_FAULTS=worker-kill,redis picks faults.
 */
export interface ChaosOptions {
  baselineMs: number;
  recoveryMs: number;
  /** Deadline of the eventually-consistent invariant checks after each fault. */
  settleMs: number;
  /** Load: one new buyer every arrivalMs, at most maxInFlight journeys at once. */
  arrivalMs: number;
  maxInFlight: number;
  /** The buyers' client timeout; above the nodes' REQUEST_TIMEOUT_MS so waiting it out is seen. */
  requestTimeoutMs: number;
  pollMs: number;
  journeyDeadlineMs: number;
  /** Worker kill -9: time before the worker is started again (SPEC §11 looks at the first 15 s). */
  killObserveMs: number;
  kafkaDownMs: number;
  redisDownMs: number;
  natsDownMs: number;
  postgresDownMs: number;
  standinFailMs: number;
  standinDownMs: number;
  /** Short data-platform retry timings for the cluster (the old budget = attempts × max). */
  retryBaseMs: number;
  retryMaxMs: number;
  maxAttempts: number;
  /** Dependency faults: answers must be good again within this many seconds after the fault. */
  recoveryBudgetS: number;
  /** After each fault's recovery period, the cluster must serve every probe again within this. */
  readyMs: number;
  holdS: number;
}

const SHORT: ChaosOptions = {
  baselineMs: 4000,
  recoveryMs: 8000,
  settleMs: 45_000,
  arrivalMs: 250,
  maxInFlight: 12,
  requestTimeoutMs: 12_000,
  pollMs: 200,
  journeyDeadlineMs: 45_000,
  killObserveMs: 15_000,
  kafkaDownMs: 15_000,
  redisDownMs: 5000,
  natsDownMs: 3000,
  postgresDownMs: 2000,
  standinFailMs: 6000,
  standinDownMs: 15_000,
  retryBaseMs: 100,
  retryMaxMs: 1000,
  maxAttempts: 5,
  recoveryBudgetS: 10,
  readyMs: 20_000,
  holdS: 30,
};

const FULL: ChaosOptions = {
  ...SHORT,
  baselineMs: 15_000,
  recoveryMs: 20_000,
  settleMs: 90_000,
  arrivalMs: 200,
  maxInFlight: 20,
  killObserveMs: 20_000,
  kafkaDownMs: 30_000,
  redisDownMs: 5000,
  natsDownMs: 5000,
  postgresDownMs: 5000,
  standinFailMs: 20_000,
  // Three times the old retry budget (maxAttempts × retryMaxMs) of these timings.
  standinDownMs: 3 * 5 * 2000,
  retryMaxMs: 2000,
};

/** REQUEST_TIMEOUT_MS of the cluster's nodes (the default of lib/config.ts, set explicitly). */
export const NODE_REQUEST_TIMEOUT_MS = 10_000;

export const FAULT_IDS = ["worker-kill", "kafka", "redis", "nats", "postgres", "standin"] as const;
export type FaultId = (typeof FAULT_IDS)[number];

function snake(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

export function chaosOptions(profile: "full" | "short", env: NodeJS.ProcessEnv = process.env): ChaosOptions {
  const options = { ...(profile === "full" ? FULL : SHORT) };
  for (const field of Object.keys(options) as Array<keyof ChaosOptions>) {
    const raw = env[`CHAOS_${snake(field)}`];
    if (raw === undefined || raw === "") continue;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0) throw new Error(`CHAOS_${snake(field)} must be a non-negative integer, got "${raw}"`);
    options[field] = value;
  }
  return options;
}

export function chaosFaults(env: NodeJS.ProcessEnv = process.env): FaultId[] {
  const raw = env.CHAOS_FAULTS;
  if (!raw) return [...FAULT_IDS];
  const picked = raw.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = picked.filter((id) => !(FAULT_IDS as readonly string[]).includes(id));
  if (unknown.length) throw new Error(`CHAOS_FAULTS: unknown fault(s) ${unknown.join(", ")}; known: ${FAULT_IDS.join(", ")}`);
  return picked as FaultId[];
}
