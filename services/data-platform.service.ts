import type { Context, ServiceSchema } from "moleculer";
import { getConfig } from "../lib/config";
import { KafkaMixin, type KafkaMethods } from "../mixins/kafka.mixin";
import { DataPlatformClient } from "../modules/data-platform/data-platform-client";
import { DataPlatformConsumer, type DataPlatformRoute } from "../modules/data-platform/data-platform-consumer";
import { dataPlatformRoutes } from "../modules/data-platform/data-platform-routes";
import { listDeadLetters, replayDeadLetters } from "../modules/data-platform/dead-letters";
import { registerDeliveryMetrics, deliveryMetricsRecorder } from "../modules/kafka/delivery-metrics";
import { CALL_TIMEOUT_MS, RETRY } from "../lib/call-policy";

interface DataPlatformVars extends KafkaMethods {
  consumer: DataPlatformConsumer;
  routes: DataPlatformRoute[];
}

interface AdminMeta {
  $statusCode?: number;
}

const eventId = { type: "uuid" } as const;

/**
 * Feeds the external data platform from the `payment.completed` and `payment.refunded` topics
 * (one consumer group), retrying transient failures for as long as they last and parking what the
 * platform refuses for good in a dead-letter topic; the operator lists and replays those (SPEC §7).
 */
const DataPlatformService: ServiceSchema<{ rest: string }, Record<string, never>, DataPlatformVars> = {
  name: "dataPlatform",
  mixins: [KafkaMixin()],
  settings: { rest: "/admin/dlq" },
  actions: {
    /** Dead-lettered messages not replayed yet, newest first. */
    dlqList: {
      rest: "GET /",
      timeout: CALL_TIMEOUT_MS.read,
      retryPolicy: RETRY.safe, // read: repeating changes nothing
      auth: "admin",
      params: { limit: { type: "number", integer: true, min: 1, max: 1000, convert: true, optional: true, default: 100 } },
      handler(this: DataPlatformVars, ctx: Context<{ limit: number }>) {
        return listDeadLetters(this.kafka, this.routes, ctx.params.limit);
      },
    },
    /** Re-publishes dead letters (all, or those named) to their main topic; the platform applies each once. */
    dlqReplay: {
      rest: "POST /replay",
      timeout: CALL_TIMEOUT_MS.write,
      retryPolicy: RETRY.safe, // the data platform applies each eventId once
      auth: "admin",
      params: { eventIds: { type: "array", items: eventId, min: 1, max: 1000, unique: true, optional: true } },
      async handler(this: DataPlatformVars, ctx: Context<{ eventIds?: string[] }, AdminMeta>) {
        const replayed = await replayDeadLetters(this.kafka, this.routes, ctx.params.eventIds);
        ctx.meta.$statusCode = 202;
        return { replayed: replayed.length, eventIds: replayed };
      },
    },
  },
  created() {
    this.routes = dataPlatformRoutes();
    registerDeliveryMetrics(this.broker);
  },
  async started() {
    const config = getConfig();
    const groupId = config.kafkaConsumerGroup;
    const record = deliveryMetricsRecorder(this.broker, groupId);
    this.consumer = new DataPlatformConsumer({
      connection: this.kafka,
      client: new DataPlatformClient(config.dataPlatformUrl, config.dataPlatformTimeoutMs),
      groupId,
      routes: this.routes,
      concurrency: config.kafkaTopicPartitions,
      backoff: { baseMs: config.dataPlatformRetryBaseMs, maxMs: config.dataPlatformRetryMaxMs },
      logger: this.logger,
      onOutcome: record.outcome,
      onBlocked: record.blocked,
    });
    // Not awaited: joining the group waits for Kafka, and a node must start without it.
    void this.consumer.start();
  },
  async stopped() {
    await this.consumer?.stop();
  },
};

export default DataPlatformService;
