import { setTimeout as delay } from "node:timers/promises";
import type { AttemptResult } from "./data-platform-client";
import { nextStep, type BackoffPolicy } from "./retry-policy";

export interface DeliveryOptions {
  maxAttempts: number;
  backoff: BackoffPolicy;
  /** Called at least every `heartbeatEveryMs` while waiting, so a long retry keeps the group membership. */
  heartbeat?: () => Promise<void>;
  heartbeatEveryMs?: number;
  /** Aborts the delivery (the consumer stops): the promise rejects and nothing is committed. */
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  onRetry?: (attempt: number, result: AttemptResult, delayMs: number) => void;
}

export type DeliveryOutcome =
  | { delivered: true; attempts: number }
  | { delivered: false; reason: "rejected" | "exhausted"; attempts: number; last: AttemptResult };

const defaultSleep = (ms: number, signal?: AbortSignal) => delay(ms, undefined, { signal });

/**
 * Tries `attempt` until the platform applied the message, refused it for good, or `maxAttempts`
 * ran out, waiting an exponential, jittered backoff between tries.
 */
export async function deliverWithRetry(
  attempt: (signal?: AbortSignal) => Promise<AttemptResult>,
  options: DeliveryOptions,
): Promise<DeliveryOutcome> {
  const sleep = options.sleep ?? defaultSleep;
  const slice = options.heartbeatEveryMs ?? 1000;
  for (let n = 1; ; n++) {
    options.signal?.throwIfAborted();
    const result = await attempt(options.signal);
    const step = nextStep(result.verdict, n, options.maxAttempts, options.backoff, options.random);
    if (step.action === "done") return { delivered: true, attempts: n };
    if (step.action === "dead-letter") return { delivered: false, reason: step.reason, attempts: n, last: result };
    options.onRetry?.(n, result, step.delayMs);
    for (let waited = 0; waited < step.delayMs; waited += slice) {
      await sleep(Math.min(slice, step.delayMs - waited), options.signal);
      await options.heartbeat?.();
    }
  }
}
