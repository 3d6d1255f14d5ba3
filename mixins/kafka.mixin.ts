import type { Service, ServiceSchema } from "moleculer";
import { getConfig } from "../lib/config";
import { acquireShared, releaseShared } from "../lib/shared-resource";
import { KafkaConnection } from "../modules/kafka/kafka-connection";

export interface KafkaMethods {
  /** The broker's shared kafkajs client and idempotent producer. */
  kafka: KafkaConnection;
}

export interface KafkaMixinOptions {
  /**
   * Start connecting (and creating the topics) when the service starts, without waiting: when
   * Kafka is down the service still starts and the connection is retried by the next send.
   */
  connectOnStart?: boolean;
}

const KAFKA_RESOURCE = "kafkajs";

/** The topics this system owns; created with the configured partition count when missing. */
export function systemTopics(): string[] {
  const config = getConfig();
  return [
    config.kafkaTopicPaymentCompleted,
    config.kafkaTopicPaymentCompletedDlq,
    config.kafkaTopicPaymentRefunded,
    config.kafkaTopicPaymentRefundedDlq,
  ];
}

/** Gives a service the broker's shared Kafka connection, opened on start and closed on stop. */
export function KafkaMixin(options: KafkaMixinOptions = {}): Partial<ServiceSchema> {
  return {
    async started(this: Service) {
      const self = this as Service & KafkaMethods;
      const config = getConfig();
      self.kafka = await acquireShared(
        this.broker,
        KAFKA_RESOURCE,
        async () =>
          new KafkaConnection(
            {
              clientId: config.kafkaClientId,
              brokers: config.kafkaBrokers,
              topics: systemTopics(),
              partitions: config.kafkaTopicPartitions,
            },
            this.broker.getLogger("kafkajs"),
          ),
        (connection) => connection.close(),
      );
      if (options.connectOnStart) {
        // In the background: a node whose Kafka is down still starts and serves everything else.
        self.kafka.connect().catch((err: Error) => {
          this.logger.warn(`Kafka is not reachable yet (${err.message}); will retry on the next send`);
        });
      }
    },
    async stopped(this: Service) {
      await releaseShared(this.broker, KAFKA_RESOURCE);
    },
  };
}
