import type { IHeaders } from "kafkajs";
import type { KafkaConnection, KafkaLogger } from "../kafka/kafka-connection";
import { DurableConsumer, type ConsumedMessage, type HandleVerdict, type MessageOutcome } from "../kafka/durable-consumer";
import type { DataPlatformClient } from "./data-platform-client";
import type { BackoffPolicy } from "./retry-policy";

/** One topic the data platform is fed from: where its messages go, and where refused ones are parked. */
export interface DataPlatformRoute {
  topic: string;
  /** Path on the data platform, e.g. "/reservations" or "/refunds". */
  path: string;
  dlqTopic: string;
}

export interface DataPlatformConsumerOptions {
  connection: KafkaConnection;
  client: DataPlatformClient;
  groupId: string;
  routes: DataPlatformRoute[];
  /** Partitions handled in parallel (each one stays in order). */
  concurrency: number;
  backoff: BackoffPolicy;
  logger: KafkaLogger;
  onOutcome?: (outcome: MessageOutcome) => void;
  onBlocked?: (topic: string, seconds: number) => void;
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

/**
 * The data-platform side of the topics: a consumer group that hands each message to the platform.
 * 2xx: done. 5xx, 408, 429, timeouts and network errors: retried for as long as the outage lasts
 * (the partition pauses between tries; see DurableConsumer). Any other 4xx: refused for good,
 * parked in the topic's DLQ with the reason and attempt count in headers. The platform dedups by
 * eventId, so a message that comes again is harmless.
 */
export class DataPlatformConsumer {
  private readonly consumer: DurableConsumer;
  private readonly routes: Map<string, DataPlatformRoute>;

  constructor(private readonly options: DataPlatformConsumerOptions) {
    this.routes = new Map(options.routes.map((route) => [route.topic, route]));
    this.consumer = new DurableConsumer({
      connection: options.connection,
      groupId: options.groupId,
      topics: options.routes.map((route) => route.topic),
      concurrency: options.concurrency,
      backoff: options.backoff,
      logger: options.logger,
      handle: (message, signal) => this.deliver(message, signal),
      onReject: (message, verdict, attempts) => this.deadLetter(message, verdict, attempts),
      onOutcome: options.onOutcome,
      onBlocked: options.onBlocked,
    });
  }

  start(): Promise<void> {
    return this.consumer.start();
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }

  private async deliver(message: ConsumedMessage, signal: AbortSignal): Promise<HandleVerdict> {
    const route = this.routes.get(message.topic);
    if (!route) return { verdict: "reject", detail: `no data-platform route for topic ${message.topic}` };
    const result = await this.options.client.post(message.value?.toString("utf8") ?? "", signal, route.path);
    if (result.verdict === "done") return { verdict: "done" };
    if (result.verdict === "retry") return { verdict: "retry", detail: result.detail };
    return { verdict: "reject", detail: result.detail, status: result.status };
  }

  private async deadLetter(message: ConsumedMessage, verdict: Extract<HandleVerdict, { verdict: "reject" }>, attempts: number): Promise<void> {
    const route = this.routes.get(message.topic);
    const dlqTopic = route?.dlqTopic ?? `${message.topic}.dlq`;
    const source = `${message.topic}/${message.partition}/${message.offset}`;
    this.options.logger.warn(`Dead-lettering ${source} to ${dlqTopic}: ${verdict.detail}`);
    await this.options.connection.send({
      topic: dlqTopic,
      messages: [
        {
          key: message.key,
          value: message.value,
          headers: {
            ...copyHeaders(message.headers),
            [DLQ_HEADERS.reason]: "rejected",
            [DLQ_HEADERS.error]: verdict.detail,
            ...(verdict.status !== undefined ? { [DLQ_HEADERS.status]: String(verdict.status) } : {}),
            [DLQ_HEADERS.attempts]: String(attempts),
            [DLQ_HEADERS.source]: source,
            [DLQ_HEADERS.failedAt]: new Date().toISOString(),
          },
        },
      ],
    });
  }
}

function copyHeaders(headers: IHeaders | undefined): IHeaders {
  const copy: IHeaders = {};
  for (const [name, value] of Object.entries(headers ?? {})) if (value !== undefined) copy[name] = value;
  return copy;
}
