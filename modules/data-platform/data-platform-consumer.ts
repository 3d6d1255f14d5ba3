import type { Consumer, EachMessagePayload, IHeaders } from "kafkajs";
import type { ClientSockets, KafkaConnection, KafkaLogger } from "../kafka/kafka-connection";
import type { DataPlatformClient } from "./data-platform-client";
import { deliverWithRetry, type DeliveryOutcome } from "./delivery";
import type { BackoffPolicy } from "./retry-policy";

export interface DataPlatformConsumerOptions {
  connection: KafkaConnection;
  client: DataPlatformClient;
  groupId: string;
  topic: string;
  dlqTopic: string;
  /** Partitions handled in parallel (each one stays in order). */
  concurrency: number;
  maxAttempts: number;
  backoff: BackoffPolicy;
  logger: KafkaLogger & { error(...args: unknown[]): void };
  onOutcome?: (outcome: DeliveryOutcome) => void;
}

/** Headers added to a dead-lettered message, next to the original ones (event-id, …). */
export const DLQ_HEADERS = {
  reason: "dlq-reason",
  error: "dlq-error",
  status: "dlq-status",
  attempts: "dlq-attempts",
  source: "dlq-source",
  failedAt: "dlq-failed-at",
} as const;

const RESTART_DELAY_MS = 2000;

/**
 * The data-platform side of the topic: a consumer group that hands each message to the platform
 * and commits its offset only once the platform applied it or it was parked in the DLQ. Anything
 * else (a crash, a stop, a rebalance mid-retry) leaves the offset where it was: the message comes
 * again, and the platform's dedup by eventId makes the repeat harmless.
 */
export class DataPlatformConsumer {
  private consumer?: Consumer;
  private sockets?: ClientSockets;
  private starting?: Promise<void>;
  private restartTimer?: NodeJS.Timeout;
  private readonly stopping = new AbortController();

  constructor(private readonly options: DataPlatformConsumerOptions) {}

  /**
   * Joins the group. Never rejects: when Kafka is down it keeps trying in the background, so a
   * node starts (and keeps running) without Kafka.
   */
  start(): Promise<void> {
    this.starting = this.startOnce();
    return this.starting;
  }

  async stop(): Promise<void> {
    // Abort deliveries in their backoff first: stopping waits for the running handlers.
    this.stopping.abort(new Error("data-platform consumer stopping"));
    clearTimeout(this.restartTimer);
    // A consumer disconnected while it is still joining can finish joining afterwards and run on.
    await this.starting;
    await this.consumer?.disconnect().catch(() => undefined);
    this.sockets?.destroyAll();
  }

  private async startOnce(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    const { connection, groupId, topic, concurrency } = this.options;
    const { kafka, sockets } = connection.consumerClient();
    const consumer = kafka.consumer({
      groupId,
      // A short session: after Kafka restarts, the group waits this long for members that died
      // with the old connection before it rebalances. Long deliveries heartbeat while they back off.
      sessionTimeout: 10_000,
      heartbeatInterval: 2000,
      // Every restart is ours (restartLater): one place decides, and stop() knows what runs.
      retry: { initialRetryTime: 250, maxRetryTime: 3000, retries: 10, restartOnFailure: async () => false },
    });
    this.consumer = consumer;
    this.sockets = sockets;
    // kafkajs has already disconnected a crashed consumer when it emits CRASH.
    consumer.on(consumer.events.CRASH, ({ payload }) => this.restartLater(consumer, payload.error));
    try {
      await connection.ensureTopics();
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: concurrency,
        eachMessage: (payload) => this.handle(consumer, payload),
      });
    } catch (err) {
      this.restartLater(consumer, err as Error);
    }
  }

  private restartLater(consumer: Consumer, error: Error): void {
    if (this.stopping.signal.aborted || this.consumer !== consumer) return;
    this.options.logger.warn(`Data-platform consumer stopped (${error.message}); restarting in ${RESTART_DELAY_MS} ms`);
    const sockets = this.sockets;
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.starting = consumer
        .disconnect()
        .catch(() => undefined)
        .then(() => {
          sockets?.destroyAll();
          return this.startOnce();
        });
    }, RESTART_DELAY_MS);
  }

  private async handle(consumer: Consumer, { topic, partition, message, heartbeat }: EachMessagePayload): Promise<void> {
    const { client, logger } = this.options;
    const body = message.value?.toString("utf8") ?? "";
    const outcome = await deliverWithRetry((signal) => client.post(body, signal), {
      maxAttempts: this.options.maxAttempts,
      backoff: this.options.backoff,
      heartbeat,
      signal: this.stopping.signal,
      onRetry: (attempt, result, delayMs) =>
        logger.debug(`Data platform attempt ${attempt} for ${topic}/${partition}@${message.offset}: ${result.detail}; retry in ${delayMs} ms`),
    });
    if (!outcome.delivered) {
      logger.warn(`Dead-lettering ${topic}/${partition}@${message.offset} (${outcome.reason}): ${outcome.last.detail}`);
      await this.options.connection.send({
        topic: this.options.dlqTopic,
        messages: [
          {
            key: message.key,
            value: message.value,
            headers: {
              ...copyHeaders(message.headers),
              [DLQ_HEADERS.reason]: outcome.reason,
              [DLQ_HEADERS.error]: outcome.last.detail,
              ...(outcome.last.status !== undefined ? { [DLQ_HEADERS.status]: String(outcome.last.status) } : {}),
              [DLQ_HEADERS.attempts]: String(outcome.attempts),
              [DLQ_HEADERS.source]: `${topic}/${partition}/${message.offset}`,
              [DLQ_HEADERS.failedAt]: new Date().toISOString(),
            },
          },
        ],
      });
    }
    await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
    this.options.onOutcome?.(outcome);
  }
}

function copyHeaders(headers: IHeaders | undefined): IHeaders {
  const copy: IHeaders = {};
  for (const [name, value] of Object.entries(headers ?? {})) if (value !== undefined) copy[name] = value;
  return copy;
}
