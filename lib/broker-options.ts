import type { BrokerOptions } from "moleculer";
import { BROKER_RETRY_POLICY, CIRCUIT_BREAKER, CallPolicyMiddleware } from "./call-policy";
import type { Config } from "./config";
import { ErrorBoundaryMiddleware } from "./error-boundary";
import { EventLoopMetricsMiddleware } from "./event-loop-metrics";
import { LivenessDiscoverer } from "./node-liveness";
import { RequestMetricsMiddleware } from "./request-metrics";

/**
 * Moleculer's internal middlewares in its own order (moleculer/src/service-broker.js, 0.15), with
 * its "Metrics" replaced by the lighter RequestMetrics (lib/request-metrics.ts says why).
 */
const INTERNAL_MIDDLEWARES = ["ActionHook", "Validator", "Bulkhead", "Cacher", "ContextTracker", "CircuitBreaker", "Timeout", "Retry", "Fallback", "ErrorHandler", "Tracing"];
const INTERNAL_AFTER_METRICS = ["Debounce", "Throttle"];

/** Broker options for a node of this system, from the typed configuration. */
export function brokerOptions(config: Config, overrides: Partial<BrokerOptions> = {}): BrokerOptions {
  const transporter = config.transporter.startsWith("nats://")
    ? // Pings find a dead link to the NATS server in ~20 s instead of the client's default 4 min.
      { type: "NATS", options: { url: config.transporter, pingInterval: 10_000, maxPingOut: 2 } }
    : config.transporter;
  return {
    namespace: config.namespace,
    nodeID: config.nodeId,
    logger: {
      type: "Console",
      options: {
        level: config.logLevel,
        formatter: config.production ? "json" : "short",
        colors: !config.production,
        moduleColors: false,
      },
    },
    transporter,
    serializer: "JSON",
    // Default for actions that declare no `timeout`; the gateway's actions declare their own (lib/call-policy.ts).
    requestTimeout: config.requestTimeoutMs,
    // Retries are opt-in per action (retryPolicy.retries) and only on "no answer" errors.
    retryPolicy: BROKER_RETRY_POLICY,
    circuitBreaker: CIRCUIT_BREAKER,
    // Dead peers are dropped within nodeTimeoutMs + 250 ms of their last heartbeat (SPEC §11).
    registry: {
      discoverer: new LivenessDiscoverer({ heartbeatIntervalS: config.heartbeatIntervalS, nodeTimeoutMs: config.nodeTimeoutMs }),
    },
    // Finish in-flight requests before a node stops (graceful shutdown).
    tracking: { enabled: true, shutdownTimeout: 10_000 },
    validator: true,
    // SPEC §11: driver errors become 503/500 on the node that knows them, before NATS.
    middlewares: [
      ErrorBoundaryMiddleware(),
      CallPolicyMiddleware(),
      EventLoopMetricsMiddleware(),
      ...INTERNAL_MIDDLEWARES,
      RequestMetricsMiddleware(),
      ...INTERNAL_AFTER_METRICS,
    ],
    internalMiddlewares: false,
    metrics: {
      enabled: config.metricsEnabled,
      reporter: config.metricsEnabled
        ? [{ type: "Prometheus", options: { port: config.metricsPort, path: "/metrics" } }]
        : [],
    },
    ...overrides,
  } as BrokerOptions;
}
