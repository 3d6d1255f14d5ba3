import type { Consumer, EachMessagePayload, IHeaders } from "kafkajs";
import type { ClientSockets, KafkaConnection, KafkaLogger } from "./kafka-connection";
import { backoffDelayMs, type BackoffPolicy } from "../data-platform/retry-policy";
import { OffsetCommitter } from "./offset-committer";

/** One message as a handler sees it. */
export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
}

/**
 * What a handler made of a message: applied ("done"), refused for good ("reject": handed to
 * `onReject`, e.g. the dead-letter topic, then skipped), or not now ("retry": the partition pauses
 * and the same message comes again after a backoff). A handler that throws means "retry".
 */
export type HandleVerdict = { verdict: "done" } | { verdict: "retry"; detail: string } | { verdict: "reject"; detail: string; status?: number };

export interface MessageOutcome {
  message: ConsumedMessage;
  verdict: "done" | "reject";
  attempts: number;
}

export interface DurableConsumerOptions {
  connection: KafkaConnection;
  groupId: string;
  topics: string[];
  /** Partitions handled in parallel (each one stays in order). */
  concurrency: number;
  backoff: BackoffPolicy;
  handle(message: ConsumedMessage, signal: AbortSignal): Promise<HandleVerdict>;
  /** Parks a refused message (the DLQ). If it throws, the message is retried like a transient failure. */
  onReject?(message: ConsumedMessage, verdict: Extract<HandleVerdict, { verdict: "reject" }>, attempts: number): Promise<void>;
  onOutcome?(outcome: MessageOutcome): void;
  /** Seconds the oldest undelivered message of a topic has been waiting (0 when none), on every change. */
  onBlocked?(topic: string, seconds: number): void;
  logger: KafkaLogger;
  /** A warning line at most this often while a partition is blocked (ms). */
  blockedLogEveryMs?: number;
}

/** Retry state of a partition's head message (the first one not yet done). */
interface HeadState {
  offset: string;
  attempts: number;
  blockedSince: number;
  lastLogAt: number;
}

const RESTART_DELAY_MS = 2000;
const BLOCKED_WARN_AFTER_MS = 5000;

/**
 * A consumer group member that commits a message's offset only once the message was applied or
 * parked, and never gives up on a transient failure: the partition is paused and the message
 * retried after a capped, jittered backoff for as long as the outage lasts, without a hot loop
 * and without holding up the other partitions. Anything else (a crash, a stop, a rebalance while
 * paused) leaves the offset where it was, so the message comes again; handlers are idempotent.
 */
export class DurableConsumer {
  private consumer?: Consumer;
  private committer?: OffsetCommitter;
  private sockets?: ClientSockets;
  private starting?: Promise<void>;
  private restartTimer?: NodeJS.Timeout;
  private readonly heads = new Map<string, HeadState>();
  private readonly resumeTimers = new Set<NodeJS.Timeout>();
  private readonly stopping = new AbortController();

  constructor(private readonly options: DurableConsumerOptions) {}

  /** Joins the group. Never rejects: while Kafka is down it keeps trying in the background. */
  start(): Promise<void> {
    this.starting = this.startOnce();
    return this.starting;
  }

  async stop(): Promise<void> {
    // Abort running handlers first: stopping waits for them.
    this.stopping.abort(new Error("consumer stopping"));
    clearTimeout(this.restartTimer);
    for (const timer of this.resumeTimers) clearTimeout(timer);
    this.resumeTimers.clear();
    // A consumer disconnected while it is still joining can finish joining afterwards and run on.
    await this.starting;
    await this.committer?.flush();
    await this.consumer?.disconnect().catch(() => undefined);
    this.sockets?.destroyAll();
  }

  /** Seconds the oldest blocked head of `topic` has waited (0 when nothing is blocked). */
  blockedSeconds(topic: string, now = Date.now()): number {
    let oldest = now;
    for (const [key, head] of this.heads) if (key.startsWith(`${topic}/`)) oldest = Math.min(oldest, head.blockedSince);
    return (now - oldest) / 1000;
  }

  private async startOnce(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    const { connection, groupId, topics, concurrency } = this.options;
    const { kafka, sockets } = connection.consumerClient();
    const consumer = kafka.consumer({
      groupId,
      // A short session: after Kafka restarts, the group waits this long for members that died
      // with the old connection before it rebalances.
      sessionTimeout: 10_000,
      heartbeatInterval: 2000,
      // When every partition is paused, kafkajs sleeps this long between fetch rounds: it bounds
      // how late a resume takes effect.
      maxWaitTimeInMs: 1000,
      // Every restart is ours (restartLater): one place decides, and stop() knows what runs.
      retry: { initialRetryTime: 250, maxRetryTime: 3000, retries: 10, restartOnFailure: async () => false },
    });
    const committer = new OffsetCommitter(consumer, this.options.logger);
    this.consumer = consumer;
    this.committer = committer;
    this.sockets = sockets;
    // kafkajs has already disconnected a crashed consumer when it emits CRASH.
    consumer.on(consumer.events.CRASH, ({ payload }) => this.restartLater(consumer, payload.error));
    // Partitions given to another member are no longer ours to report as blocked.
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      committer.forget((topic, partition) => payload.memberAssignment[topic]?.includes(partition) ?? false);
      this.forgetUnassigned(payload.memberAssignment);
    });
    try {
      await connection.ensureTopics();
      await consumer.connect();
      // From the beginning: a group created after messages were written must still see them.
      await consumer.subscribe({ topics, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: concurrency,
        eachMessage: (payload) => this.handle(consumer, committer, payload),
      });
    } catch (err) {
      this.restartLater(consumer, err as Error);
    }
  }

  private forgetUnassigned(assignment: Record<string, number[]>): void {
    for (const key of [...this.heads.keys()]) {
      const [topic, partition] = [key.slice(0, key.lastIndexOf("/")), Number(key.slice(key.lastIndexOf("/") + 1))];
      if (!assignment[topic]?.includes(partition)) this.heads.delete(key);
    }
    for (const topic of this.options.topics) this.options.onBlocked?.(topic, this.blockedSeconds(topic));
  }

  private restartLater(consumer: Consumer, error: Error): void {
    if (this.stopping.signal.aborted || this.consumer !== consumer) return;
    this.options.logger.warn(`Consumer ${this.options.groupId} stopped (${error.message}); restarting in ${RESTART_DELAY_MS} ms`);
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

  private async handle(consumer: Consumer, committer: OffsetCommitter, { topic, partition, message, pause }: EachMessagePayload): Promise<void> {
    const consumed: ConsumedMessage = { topic, partition, offset: message.offset, key: message.key, value: message.value, headers: message.headers ?? {} };
    const key = `${topic}/${partition}`;
    const head = this.heads.get(key);
    const attempts = (head?.offset === message.offset ? head.attempts : 0) + 1;
    let verdict: HandleVerdict;
    try {
      verdict = await this.options.handle(consumed, this.stopping.signal);
      if (verdict.verdict === "reject") await this.options.onReject?.(consumed, verdict, attempts);
    } catch (err) {
      if (this.stopping.signal.aborted) throw err;
      verdict = { verdict: "retry", detail: (err as Error).message };
    }
    if (verdict.verdict === "retry") return this.retryLater(consumer, consumed, attempts, verdict.detail, pause);

    committer.done(topic, partition, message.offset);
    if (head) {
      this.heads.delete(key);
      const log = head.lastLogAt > 0 ? this.options.logger.info : this.options.logger.debug;
      log.call(this.options.logger, `Delivery of ${key} resumed after ${((Date.now() - head.blockedSince) / 1000).toFixed(1)} s (${attempts} attempts)`);
      this.options.onBlocked?.(topic, this.blockedSeconds(topic));
    }
    this.options.onOutcome?.({ message: consumed, verdict: verdict.verdict, attempts });
  }

  /** Pause the partition, rewind it to this message, and resume after the backoff. */
  private retryLater(consumer: Consumer, message: ConsumedMessage, attempts: number, detail: string, pause: () => () => void): void {
    const key = `${message.topic}/${message.partition}`;
    const now = Date.now();
    const previous = this.heads.get(key);
    const head: HeadState =
      previous?.offset === message.offset ? { ...previous, attempts } : { offset: message.offset, attempts, blockedSince: now, lastLogAt: 0 };
    const delayMs = backoffDelayMs(attempts, this.options.backoff);
    // A blip of a few tries is routine; an outage gets a warning, repeated while it lasts.
    if (now - head.blockedSince >= BLOCKED_WARN_AFTER_MS && now - head.lastLogAt >= (this.options.blockedLogEveryMs ?? 30_000)) {
      head.lastLogAt = now;
      const blockedS = ((now - head.blockedSince) / 1000).toFixed(1);
      this.options.logger.warn(`Delivery of ${key}@${message.offset} blocked for ${blockedS} s (attempt ${attempts}: ${detail}); next try in ${delayMs} ms`);
    }
    this.heads.set(key, head);
    this.options.onBlocked?.(message.topic, this.blockedSeconds(message.topic, now));
    // Seek first: kafkajs then stops handing out the rest of the fetched batch of this partition.
    consumer.seek({ topic: message.topic, partition: message.partition, offset: message.offset });
    const resume = pause();
    const timer = setTimeout(() => {
      this.resumeTimers.delete(timer);
      resume();
    }, delayMs);
    this.resumeTimers.add(timer);
  }
}
