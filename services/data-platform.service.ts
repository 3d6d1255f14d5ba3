import type { ServiceSchema } from "moleculer";
import { getConfig } from "../lib/config";
import { KafkaMixin, type KafkaMethods } from "../mixins/kafka.mixin";
import { DataPlatformClient } from "../modules/data-platform/data-platform-client";
import { DataPlatformConsumer } from "../modules/data-platform/data-platform-consumer";
import type { DeliveryOutcome } from "../modules/data-platform/delivery";

interface DataPlatformVars extends KafkaMethods {
  consumer: DataPlatformConsumer;
}

const METRIC_DELIVERIES = "dataplatform.deliveries.total";

/**
 * Feeds the external data platform from the `payment.completed` topic (consumer group), with
 * retries, a dead-letter topic and at-least-once offsets; the platform deduplicates by eventId.
 */
const DataPlatformService: ServiceSchema<Record<string, never>, Record<string, never>, DataPlatformVars> = {
  name: "dataPlatform",
  mixins: [KafkaMixin()],
  settings: {},
  created() {
    if (this.broker.isMetricsEnabled()) {
      this.broker.metrics.register({
        type: "counter",
        name: METRIC_DELIVERIES,
        labelNames: ["result"],
        description: "Messages handed to the data platform, by result (delivered, rejected, exhausted)",
      });
    }
  },
  async started() {
    const config = getConfig();
    const countOutcome = (outcome: DeliveryOutcome) => {
      if (!this.broker.isMetricsEnabled()) return;
      this.broker.metrics.increment(METRIC_DELIVERIES, { result: outcome.delivered ? "delivered" : outcome.reason });
    };
    this.consumer = new DataPlatformConsumer({
      connection: this.kafka,
      client: new DataPlatformClient(config.dataPlatformUrl, config.dataPlatformTimeoutMs),
      groupId: config.kafkaConsumerGroup,
      topic: config.kafkaTopicPaymentCompleted,
      dlqTopic: config.kafkaTopicPaymentCompletedDlq,
      concurrency: config.kafkaTopicPartitions,
      maxAttempts: config.dataPlatformMaxAttempts,
      backoff: { baseMs: config.dataPlatformRetryBaseMs, maxMs: config.dataPlatformRetryMaxMs },
      logger: this.logger,
      onOutcome: countOutcome,
    });
    // Not awaited: joining the group waits for Kafka, and a node must start without it.
    void this.consumer.start();
  },
  async stopped() {
    await this.consumer?.stop();
  },
};

export default DataPlatformService;
