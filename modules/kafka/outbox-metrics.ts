import type { ServiceBroker } from "moleculer";
import type { OutboxBacklog, OutboxRow } from "./outbox";

/** Prometheus names get dots turned into underscores: outbox_backlog, outbox_publish_lag_seconds, … */
export const OUTBOX_METRICS = {
  backlog: "outbox.backlog",
  lag: "outbox.publish.lag.seconds",
  latency: "outbox.publish.latency.seconds",
  published: "outbox.published.total",
  failures: "outbox.publish.failures.total",
} as const;

/** Publishing backlog and lag of the outbox; a no-op when the broker's metrics are off. */
export class OutboxMetrics {
  private readonly enabled: boolean;

  constructor(private readonly broker: ServiceBroker) {
    this.enabled = broker.isMetricsEnabled();
    if (!this.enabled) return;
    const metrics = broker.metrics;
    metrics.register({ type: "gauge", name: OUTBOX_METRICS.backlog, description: "Outbox rows not yet acknowledged by Kafka" });
    metrics.register({
      type: "gauge",
      name: OUTBOX_METRICS.lag,
      unit: "seconds",
      description: "Age of the oldest outbox row not yet acknowledged by Kafka (0 when none)",
    });
    metrics.register({
      type: "histogram",
      name: OUTBOX_METRICS.latency,
      unit: "seconds",
      description: "Time from the payment's commit to Kafka's acknowledgement",
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    });
    metrics.register({
      type: "counter",
      name: OUTBOX_METRICS.published,
      labelNames: ["path"],
      description: "Outbox rows published, by path (event = right after commit, relay = later)",
    });
    metrics.register({ type: "counter", name: OUTBOX_METRICS.failures, labelNames: ["path"], description: "Failed publish attempts" });
  }

  published(rows: OutboxRow[], path: "event" | "relay"): void {
    if (!this.enabled || rows.length === 0) return;
    const now = Date.now();
    for (const row of rows) {
      this.broker.metrics.observe(OUTBOX_METRICS.latency, Math.max(0, now - new Date(row.createdAt).getTime()) / 1000);
    }
    this.broker.metrics.increment(OUTBOX_METRICS.published, { path }, rows.length);
  }

  failed(path: "event" | "relay"): void {
    if (this.enabled) this.broker.metrics.increment(OUTBOX_METRICS.failures, { path });
  }

  backlog(backlog: OutboxBacklog): void {
    if (!this.enabled) return;
    this.broker.metrics.set(OUTBOX_METRICS.backlog, backlog.unpublished);
    this.broker.metrics.set(OUTBOX_METRICS.lag, backlog.oldestAgeMs / 1000);
  }
}
