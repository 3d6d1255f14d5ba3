import type { ServiceBroker } from "moleculer";
import type { MessageOutcome } from "./durable-consumer";

/** Prometheus names get dots turned into underscores: delivery_messages_total, delivery_blocked_seconds. */
export const DELIVERY_METRICS = {
  messages: "delivery.messages.total",
  blocked: "delivery.blocked.seconds",
} as const;

/** Registers the delivery metrics once per broker (several consumers of a node share them). */
export function registerDeliveryMetrics(broker: ServiceBroker): void {
  if (!broker.isMetricsEnabled() || broker.metrics.getMetric(DELIVERY_METRICS.messages)) return;
  broker.metrics.register({
    type: "counter",
    name: DELIVERY_METRICS.messages,
    labelNames: ["group", "topic", "result"],
    description: "Messages a consumer group finished with, by result (done = applied, reject = dead-lettered)",
  });
  broker.metrics.register({
    type: "gauge",
    name: DELIVERY_METRICS.blocked,
    labelNames: ["group", "topic"],
    unit: "seconds",
    description: "How long the oldest message of a topic has been waiting for a transient failure to pass (0 when none)",
  });
}

/** Callbacks of one consumer group that feed the metrics; no-ops when metrics are off. */
export function deliveryMetricsRecorder(broker: ServiceBroker, group: string) {
  const enabled = broker.isMetricsEnabled();
  return {
    outcome(outcome: MessageOutcome): void {
      if (enabled) broker.metrics.increment(DELIVERY_METRICS.messages, { group, topic: outcome.message.topic, result: outcome.verdict });
    },
    blocked(topic: string, seconds: number): void {
      if (enabled) broker.metrics.set(DELIVERY_METRICS.blocked, seconds, { group, topic });
    },
  };
}
