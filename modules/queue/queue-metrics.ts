import type { ServiceBroker } from "moleculer";
import type { AdmissionRound } from "./queue-store";
import { observedRate } from "./queue-eta";

/** Prometheus names (Moleculer turns dots into underscores), all labelled by concertId. */
export const QueueMetrics = {
  waiting: "queue.waiting.length",
  active: "queue.active.count",
  admissions: "queue.admissions.total",
  admissionRate: "queue.admissions.rate",
} as const;

export function registerQueueMetrics(broker: ServiceBroker): void {
  if (!broker.isMetricsEnabled()) return;
  const metrics = broker.metrics;
  const gauge = (name: string, description: string, unit: string) => {
    if (!metrics.hasMetric(name)) metrics.register({ type: "gauge", name, description, unit, labelNames: ["concertId"] });
  };
  gauge(QueueMetrics.waiting, "Users waiting in the concert's queue", "user");
  gauge(QueueMetrics.active, "Users holding an ACTIVE queue token", "user");
  gauge(QueueMetrics.admissionRate, "Observed admissions per second (recent window)", "user/sec");
  if (!metrics.hasMetric(QueueMetrics.admissions)) {
    metrics.register({
      type: "counter",
      name: QueueMetrics.admissions,
      description: "Users admitted from waiting to active",
      unit: "user",
      labelNames: ["concertId"],
    });
  }
}

/** Gauges from a round this node ran; the admissions counter only counts rounds run here. */
export function recordAdmissionRound(broker: ServiceBroker, round: AdmissionRound, admitIntervalMs: number): void {
  if (!broker.isMetricsEnabled()) return;
  const labels = { concertId: round.concertId };
  broker.metrics.set(QueueMetrics.waiting, round.waiting, labels);
  broker.metrics.set(QueueMetrics.active, round.active, labels);
  if (round.admitted > 0) broker.metrics.increment(QueueMetrics.admissions, labels, round.admitted);
  broker.metrics.set(QueueMetrics.admissionRate, observedRate(round.window, round.nowMs, admitIntervalMs) ?? 0, labels);
}

/** Gauges on a node that did not run the round, so every node reports current lengths. */
export function recordQueueLengths(broker: ServiceBroker, concertId: number, lengths: { waiting: number; active: number }): void {
  if (!broker.isMetricsEnabled()) return;
  broker.metrics.set(QueueMetrics.waiting, lengths.waiting, { concertId });
  broker.metrics.set(QueueMetrics.active, lengths.active, { concertId });
}
