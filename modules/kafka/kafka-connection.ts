import { connect, type Socket } from "node:net";
import {
  Kafka,
  logLevel,
  Partitioners,
  type ISocketFactory,
  type ITopicConfig,
  type LogEntry,
  type Producer,
  type ProducerRecord,
  type RecordMetadata,
} from "kafkajs";

export interface KafkaConnectionOptions {
  clientId: string;
  brokers: string[];
  /** Topics created (if missing) before the first send. */
  topics: string[];
  partitions: number;
}

/** The subset of a Moleculer logger this module writes to. */
export interface KafkaLogger {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  debug(...args: unknown[]): void;
}

/**
 * Retries of every kafkajs operation: short enough that a send fails (and the outbox relay takes
 * over) within ~20 s of Kafka going away, long enough to ride out a leader election.
 */
const CLIENT_RETRY = { initialRetryTime: 250, maxRetryTime: 3000, retries: 10 };

/** kafkajs logs its own connection errors loudly; our callers report what matters. */
function logCreator(logger: KafkaLogger) {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      // We bound the idempotent producer's retries on purpose and replace the producer after a
      // failed send (see send()), which keeps the sequence numbers safe.
      if (message.startsWith("Limiting retries for the idempotent producer")) return;
      // Another node created the topic first: ensureTopics treats that as success.
      if (message.startsWith("Response CreateTopics")) return;
      const detail = extra.error ? ` (${String(extra.error)})` : "";
      // One line per attempt while Kafka is down: the callers' own warnings say it once.
      const noisy = ["Connection error", "Failed to connect to seed broker", "Failed to send messages"].some((start) =>
        message.startsWith(start),
      );
      if (level <= logLevel.WARN && !noisy) logger.warn(`kafkajs: ${message}${detail}`);
      else logger.debug(`kafkajs: ${message}${detail}`);
    };
}

/**
 * One kafkajs client and its idempotent producer (acks = all, one request in flight, so retries
 * cannot reorder or duplicate inside a partition). Connecting is lazy and retried on the next
 * send, so Kafka being down never stops the node; it only makes sends fail.
 */
/**
 * The sockets of one kafkajs client. kafkajs 2.2 can leave work running after a disconnect (a
 * consumer's heartbeat after a crash or a stop mid-rebalance) that reopens a connection nobody
 * closes; once the client is done with, every socket it has or opens later is destroyed. With an
 * error: that makes kafkajs disconnect the connection, which also ends its request queue's timer
 * (kafkajs issue #1704, a 1 ms polling loop per connection until disconnect, which would keep the
 * process alive).
 */
export class ClientSockets {
  private readonly open = new Set<Socket>();
  private closed = false;

  readonly factory: ISocketFactory = ({ host, port, onConnect }) => {
    const socket = connect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    if (this.closed) {
      socket.destroy(new Error("Kafka client closed"));
      return socket;
    }
    this.open.add(socket);
    socket.once("close", () => this.open.delete(socket));
    return socket;
  };

  destroyAll(): void {
    this.closed = true;
    for (const socket of this.open) socket.destroy(new Error("Kafka client closed"));
    this.open.clear();
  }
}

/** A kafkajs client of this system (plain TCP, bounded retries, logs through `logger`). */
export function createKafkaClient(clientId: string, brokers: string[], logger: KafkaLogger, sockets: ClientSockets): Kafka {
  return new Kafka({
    clientId,
    brokers,
    connectionTimeout: 3000,
    retry: CLIENT_RETRY,
    logLevel: logLevel.WARN,
    logCreator: logCreator(logger),
    socketFactory: sockets.factory,
  });
}

interface ProducerSlot {
  producer: Producer;
  ready: Promise<Producer>;
  /** Sends in flight on this producer: it is disconnected only once they settled. */
  sends: Set<Promise<unknown>>;
}

export class KafkaConnection {
  readonly kafka: Kafka;
  private readonly sockets = new ClientSockets();
  private current?: ProducerSlot;
  /** Producers being retired: awaited by close() so that no socket outlives the connection. */
  private readonly retiring = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly options: KafkaConnectionOptions,
    private readonly logger: KafkaLogger,
  ) {
    this.kafka = createKafkaClient(options.clientId, options.brokers, logger, this.sockets);
  }

  /** A separate client for one consumer instance: destroy its sockets once it is disconnected. */
  consumerClient(): { kafka: Kafka; sockets: ClientSockets } {
    const sockets = new ClientSockets();
    return { kafka: createKafkaClient(this.options.clientId, this.options.brokers, this.logger, sockets), sockets };
  }

  /** The connected producer, after the topics exist. Shared by concurrent callers. */
  async connect(): Promise<Producer> {
    return this.slot().ready;
  }

  /** Sends with acks = all; resolves only once Kafka stored every message. */
  async send(record: Omit<ProducerRecord, "acks">): Promise<RecordMetadata[]> {
    for (;;) {
      const slot = this.slot();
      const producer = await slot.ready;
      if (slot !== this.current) continue; // retired while connecting: take the fresh one
      const sending = producer.send({ ...record, acks: -1 });
      slot.sends.add(sending);
      try {
        return await sending;
      } catch (err) {
        // A request that failed after retries may still have been written. Reusing this
        // producer's id would let the broker take the next batch for a duplicate of it and drop it
        // silently, so the next send gets a fresh producer (new id, new sequence numbers): at
        // worst a duplicate, never a loss.
        this.retire(slot);
        throw err;
      } finally {
        slot.sends.delete(sending);
      }
    }
  }

  async ensureTopics(): Promise<void> {
    const admin = this.kafka.admin();
    try {
      // Inside the try: a connect that fails half-way (broker still starting) leaves a socket open.
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const missing: ITopicConfig[] = this.options.topics
        .filter((topic) => !existing.has(topic))
        .map((topic) => ({ topic, numPartitions: this.options.partitions }));
      // createTopics answers false (no error) when another node created them first.
      if (missing.length > 0) await admin.createTopics({ topics: missing, waitForLeaders: true });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.current) this.retire(this.current);
    await Promise.all([...this.retiring]);
    this.sockets.destroyAll();
  }

  private slot(): ProducerSlot {
    if (this.closed) throw new Error("Kafka connection closed");
    if (!this.current) {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        retry: CLIENT_RETRY,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      const ready = (async () => {
        await this.ensureTopics();
        await producer.connect();
        return producer;
      })();
      const slot: ProducerSlot = { producer, ready, sends: new Set() };
      this.current = slot;
      ready.catch(() => this.retire(slot));
    }
    return this.current;
  }

  /** Takes a producer out of use; disconnects it once its connect and sends have settled. */
  private retire(slot: ProducerSlot): void {
    if (this.current !== slot) return;
    this.current = undefined;
    const done = (async () => {
      await slot.ready.catch(() => undefined);
      // kafkajs retries of a pending send would reconnect a producer disconnected under them.
      await Promise.allSettled([...slot.sends]);
      await slot.producer.disconnect().catch(() => undefined);
    })();
    this.retiring.add(done);
    void done.finally(() => this.retiring.delete(done));
  }
}
