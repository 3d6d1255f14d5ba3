import type { Service, ServiceSchema } from "moleculer";
import { getConfig } from "../lib/config";
import { DurableConsumer } from "../modules/kafka/durable-consumer";
import { deliveryMetricsRecorder, registerDeliveryMetrics } from "../modules/kafka/delivery-metrics";
import { KafkaMixin, type KafkaMethods } from "./kafka.mixin";

/** The events whose consumers must never miss one: they are on Kafka topics fed by the outbox. */
export type DurableEventName = "payment.completed" | "payment.refunded";

export type DurableEventHandlers<S> = Partial<Record<DurableEventName, (this: S, payload: Record<string, unknown>) => Promise<void>>>;

function topicOf(event: DurableEventName): string {
  const config = getConfig();
  return event === "payment.completed" ? config.kafkaTopicPaymentCompleted : config.kafkaTopicPaymentRefunded;
}

/** Retries of a derived-state update (Redis down, a node restarting): short, capped. */
const INTERNAL_BACKOFF = { baseMs: 200, maxMs: 5000 };

const CONSUMER = Symbol("durableEventsConsumer");

/**
 * Drives a service's handlers of `payment.completed` / `payment.refunded` from the Kafka topics
 * (SPEC §9): the outbox puts every committed payment and refund there, so a node killed between
 * commit and emit, or a consumer node down for a while, delays an update but never loses it.
 * Each service is its own consumer group (`<KAFKA_CLIENT_ID>.<group>`): every group sees every
 * message, and the nodes running a service share its partitions. Handlers must be idempotent:
 * messages come at least once, and the in-process event (the fast path) usually came first.
 */
export function DurableEventsMixin<S extends Service>(group: string, handlers: DurableEventHandlers<S>): Partial<ServiceSchema> {
  const events = Object.keys(handlers) as DurableEventName[];
  return {
    mixins: [KafkaMixin()],
    created(this: Service) {
      registerDeliveryMetrics(this.broker);
    },
    started(this: Service) {
      const self = this as Service & KafkaMethods;
      const config = getConfig();
      const groupId = `${config.kafkaClientId}.${group}`;
      const byTopic = new Map(events.map((event) => [topicOf(event), handlers[event] as NonNullable<DurableEventHandlers<S>[DurableEventName]>]));
      const record = deliveryMetricsRecorder(this.broker, groupId);
      const consumer = new DurableConsumer({
        connection: self.kafka,
        groupId,
        topics: [...byTopic.keys()],
        concurrency: config.kafkaTopicPartitions,
        backoff: INTERNAL_BACKOFF,
        logger: this.logger,
        handle: async (message) => {
          let payload: unknown;
          try {
            payload = JSON.parse(message.value?.toString("utf8") ?? "");
          } catch {
            return { verdict: "reject", detail: "value is not JSON" };
          }
          if (typeof payload !== "object" || payload === null) return { verdict: "reject", detail: "value is not a JSON object" };
          await byTopic.get(message.topic)?.call(this as unknown as S, payload as Record<string, unknown>);
          return { verdict: "done" };
        },
        // A value no handler can read is also refused by the data platform, whose DLQ keeps it.
        onReject: async (message, verdict) => {
          this.logger.error(`Skipping ${message.topic}/${message.partition}@${message.offset}: ${verdict.detail}`);
        },
        onOutcome: record.outcome,
        onBlocked: record.blocked,
      });
      (this as unknown as Record<symbol, DurableConsumer>)[CONSUMER] = consumer;
      // Not awaited: joining the group waits for Kafka, and a node must start without it.
      void consumer.start();
    },
    async stopped(this: Service) {
      await (this as unknown as Record<symbol, DurableConsumer | undefined>)[CONSUMER]?.stop();
    },
  };
}
