import type { BrokerOptions } from "moleculer";
import type { Config } from "./config";

/** Broker options for a node of this system, from the typed configuration. */
export function brokerOptions(config: Config, overrides: Partial<BrokerOptions> = {}): BrokerOptions {
  const transporter = config.transporter.startsWith("nats://")
    ? { type: "NATS", options: { url: config.transporter } }
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
    cacher: {
      type: "Redis",
      options: {
        prefix: `${config.redisPrefix}cache`,
        ttl: config.seatCacheTtlS,
        redis: config.redisUrl,
        // Options of the redlock (v4) the cacher uses for its per-key stampede lock.
        redlock: { retryCount: 100, retryDelay: 25, retryJitter: 10 },
      },
    },
    requestTimeout: config.requestTimeoutMs,
    retryPolicy: { enabled: false },
    // Finish in-flight requests before a node stops (graceful shutdown).
    tracking: { enabled: true, shutdownTimeout: 10_000 },
    validator: true,
    metrics: {
      enabled: config.metricsEnabled,
      reporter: config.metricsEnabled
        ? [{ type: "Prometheus", options: { port: config.metricsPort, path: "/metrics" } }]
        : [],
    },
    ...overrides,
  } as BrokerOptions;
}
