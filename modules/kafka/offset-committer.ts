import type { Consumer } from "kafkajs";
import type { KafkaLogger } from "./kafka-connection";

/** How long an applied message's offset may wait before it is committed (with the others). */
export const COMMIT_EVERY_MS = 200;

/**
 * Commits the offsets of applied messages in one OffsetCommit request per COMMIT_EVERY_MS instead
 * of one awaited request per message: a payment is consumed by four groups, and the awaited commit
 * per message was a Kafka round trip in every handler. Only offsets of messages that were applied
 * or parked are ever handed in, per partition in order, so a commit never passes an undelivered
 * message; what was not committed yet when a node dies or a rebalance takes the partition comes
 * again (handlers are idempotent).
 */
export class OffsetCommitter {
  private readonly pending = new Map<string, { topic: string; partition: number; offset: string }>();
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly consumer: Consumer,
    private readonly logger: KafkaLogger,
    private readonly everyMs = COMMIT_EVERY_MS,
  ) {}

  /** The message at `offset` of that partition is done: commit offset + 1 soon. */
  done(topic: string, partition: number, offset: string): void {
    this.pending.set(`${topic}/${partition}`, { topic, partition, offset: (BigInt(offset) + 1n).toString() });
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.everyMs);
  }

  /** Sends what is pending now (also before the consumer disconnects). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return this.flushing;
    const offsets = [...this.pending.values()];
    this.pending.clear();
    this.flushing = this.flushing
      .then(() => this.consumer.commitOffsets(offsets))
      .catch((err: Error) => this.logger.debug(`Offsets not committed (${err.message}); those messages come again`));
    return this.flushing;
  }

  /** A partition left this member (rebalance): its offsets are the new owner's to commit. */
  forget(keep: (topic: string, partition: number) => boolean): void {
    for (const [key, entry] of this.pending) if (!keep(entry.topic, entry.partition)) this.pending.delete(key);
  }
}
