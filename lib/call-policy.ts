/**
 * How long a broker call may take and when it is sent again (SPEC §11). Every action that the
 * gateway calls declares a `timeout` and, when repeating it is safe, a `retryPolicy` from here:
 *
 *   timeout: CALL_TIMEOUT_MS.read,
 *   retryPolicy: RETRY.safe, // why it is safe
 *
 * Moleculer retries on the caller's node (the retry middleware wraps the remote call), picks the
 * endpoint again, and so lands on another node once the dead one is dropped (lib/node-liveness.ts).
 */
import type { BrokerOptions, CallingOptions, Errors, Middleware, ServiceBroker } from "moleculer";

type RetryPolicyOptions = NonNullable<BrokerOptions["retryPolicy"]>;
type BrokerCircuitBreakerOptions = NonNullable<BrokerOptions["circuitBreaker"]>;

/**
 * Per-action timeouts (ms). Reads are short: a dead node is then left after at most this long, and
 * the retry goes elsewhere. Writes wait longer than a dead node takes to be dropped (≤ ~3.5 s), so
 * a write sent to a node that dies is rejected by the drop (REQUEST_REJECTED) before it times out;
 * a timeout then means "slow, may still commit", which only some writes may repeat.
 */
export const CALL_TIMEOUT_MS = { read: 3_000, write: 6_000 } as const;

/** Errors that say the call never got an answer from a live node. */
const NODE_GONE = ["REQUEST_REJECTED", "SERVICE_NOT_AVAILABLE"] as const;
const NODE_GONE_OR_SLOW = [...NODE_GONE, "REQUEST_TIMEOUT"] as const;

/** Moleculer passes the merged broker+action policy as `this` to `check` (opts.check(err)). */
interface CallRetryPolicy extends RetryPolicyOptions {
  /** Error `type`s this action is sent again on; set by the presets below (plain data, survives INFO). */
  retryOn?: readonly string[];
  /** Retry only calls whose ctx.meta has this field (see CallPolicyMiddleware). */
  onlyWithMeta?: string;
}

/**
 * Only Moleculer's "no answer" errors, never a domain answer or a server error from the handler
 * (MoleculerServerError is `retryable` by Moleculer's default check; a handler that failed is not
 * retried here: PostgreSQL blips are retried inside the transaction, lib/db/transient-retry.ts).
 */
export function isRetryableCallError(this: CallRetryPolicy | void, err: Errors.MoleculerError | Error): boolean {
  const type = (err as { type?: unknown }).type;
  const retryOn = (this && this.retryOn) || NODE_GONE_OR_SLOW;
  return typeof type === "string" && retryOn.includes(type);
}

/** Broker-wide: enabled, but no action is retried unless it says so (retries: 0). */
export const BROKER_RETRY_POLICY: RetryPolicyOptions = {
  enabled: true,
  retries: 0,
  delay: 50,
  maxDelay: 400,
  factor: 3,
  check: isRetryableCallError,
};

export const RETRY = {
  /** Repeating has no effect, or a single effect by Idempotency-Key / row state: also after a timeout. */
  safe: { retries: 2, retryOn: NODE_GONE_OR_SLOW } as CallRetryPolicy,
  /** Only when the node is gone (its transaction rolled back or, rarely, committed unseen): not after a timeout. */
  nodeGone: { retries: 2, retryOn: NODE_GONE } as CallRetryPolicy,
  /** Like `safe`, but only when the call carries an Idempotency-Key; without one it is sent once. */
  withKey: { retries: 2, retryOn: NODE_GONE_OR_SLOW, onlyWithMeta: "idempotencyKey" } as CallRetryPolicy,
} as const;

/**
 * An endpoint (action on one node) that fails half of ≥ 10 calls in a 30 s window is skipped for
 * 5 s, then probed with one call. Failures are only what says the endpoint itself is sick:
 * timeouts, rejections and unexpected 5xx. A domain answer (4xx) is a success here, and so is
 * 503 SERVICE_UNAVAILABLE: a shared dependency being down fails every node alike, and opening every
 * breaker would turn its informative answer (dependency, Retry-After) into "no endpoint".
 */
export const CIRCUIT_BREAKER: BrokerCircuitBreakerOptions = {
  enabled: true,
  threshold: 0.5,
  minRequestCount: 10,
  windowTime: 30,
  halfOpenTime: 5_000,
  check: isEndpointFailure,
};

export function isEndpointFailure(err: Errors.MoleculerError | Error): boolean {
  const { code, type } = err as { code?: unknown; type?: unknown };
  if (typeof code === "number" && code < 500) return false;
  return type !== "SERVICE_UNAVAILABLE"; // a driver error with a string code is unexpected: a failure
}

/**
 * Per-call part of the policy: an action whose repeat is single only by an Idempotency-Key
 * (`retryPolicy: RETRY.withKey`) is sent once when the call carries no key. Runs in broker.call,
 * before the context exists; the retry middleware then reads `retries` from the call options.
 */
export function CallPolicyMiddleware(): Middleware {
  let broker: ServiceBroker;
  type Call = (actionName: unknown, params?: unknown, opts?: CallingOptions) => Promise<unknown>;
  return {
    name: "CallPolicy",
    created(created: ServiceBroker) {
      broker = created;
    },
    call: ((next: Call): Call => {
      return (actionName, params, opts = {}) => {
        const field = keyFieldOf(broker, actionName);
        if (field && opts.retries === undefined) {
          const meta = { ...(opts.parentCtx?.meta ?? {}), ...(opts.meta ?? {}) } as Record<string, unknown>;
          if (!meta[field]) return next(actionName, params, { ...opts, retries: 0 });
        }
        return next(actionName, params, opts);
      };
    }) as unknown as Middleware["call"], // Moleculer types `call` as returning a promise; it returns the wrapped call
  };
}

/** `target` is an action name, or the endpoint itself when moleculer-web calls the one it resolved. */
function keyFieldOf(broker: ServiceBroker, target: unknown): string | undefined {
  if (typeof target !== "string") {
    return (target as { action?: { retryPolicy?: CallRetryPolicy } } | null)?.action?.retryPolicy?.onlyWithMeta;
  }
  const actionName = target;
  const endpoints = broker.registry.getActionEndpoints(actionName) as unknown as
    | { endpoints?: Array<{ action?: { retryPolicy?: CallRetryPolicy } }> }
    | undefined;
  return endpoints?.endpoints?.[0]?.action?.retryPolicy?.onlyWithMeta;
}
