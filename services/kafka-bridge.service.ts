import type { Context, ServiceSchema } from "moleculer";
import { getConfig } from "../lib/config";
import { OrmMixin, type OrmMethods } from "../mixins/orm.mixin";
import { KafkaMixin, type KafkaMethods } from "../mixins/kafka.mixin";
import { outboxBacklog, publishEvent, purgePublished, relayBatch, toKafkaMessage, type OutboxRow } from "../modules/kafka/outbox";
import { OutboxMetrics } from "../modules/kafka/outbox-metrics";

const RELAY_BATCH = 100;
/** A relay's claim on its rows: far longer than a Kafka send (kafkajs gives up within ~20 s). */
const RELAY_LEASE_MS = 60_000;
/** How often a node tries to purge old published rows (one node at a time does it). */
const PURGE_EVERY_MS = 10 * 60_000;
/** Pending fast-path sends per node; beyond that a burst waits in the outbox for the relay. */
const MAX_FAST_PATH_IN_FLIGHT = 1000;

interface BridgeMethods {
  publishNow(eventId: string): void;
  publishOne(eventId: string): Promise<void>;
  publishRows(rows: OutboxRow[]): Promise<void>;
  relayAll(): Promise<number>;
  relayTick(): Promise<void>;
  purgeTick(): Promise<void>;
  measureBacklog(): Promise<void>;
  scheduleRelay(): void;
}

interface BridgeVars extends OrmMethods, KafkaMethods, BridgeMethods {
  metrics: OutboxMetrics;
  relayTimer?: NodeJS.Timeout;
  relayRunning?: Promise<void>;
  fastPath: Set<Promise<void>>;
  metricsTimer?: NodeJS.Timeout;
  purgeTimer?: NodeJS.Timeout;
  purging?: Promise<void>;
  measuring: boolean;
  stopping: boolean;
  /** False after a failed send: the fast path then leaves rows to the relay until Kafka is back. */
  kafkaHealthy: boolean;
}

/**
 * Forwards committed payments and refunds from the outbox to Kafka (each row to its own topic).
 * The fast path publishes a row as soon as its `payment.completed` / `payment.refunded` event
 * arrives; the relay re-sends rows that stayed unpublished (bridge, Kafka or the event lost), so
 * every committed payment reaches the topic at least once. Published rows are purged after
 * OUTBOX_RETENTION_H.
 */
const KafkaBridgeService: ServiceSchema<Record<string, never>, BridgeMethods, BridgeVars> = {
  name: "kafkaBridge",
  mixins: [OrmMixin(), KafkaMixin({ connectOnStart: true })],
  settings: {},
  actions: {
    /** Internal (tests, operators): publish every unpublished row older than the relay delay now. */
    relayOutbox: {
      params: {},
      async handler() {
        return { published: await this.relayAll() };
      },
    },
    /** Internal (tests, operators): delete rows published more than `retentionHours` ago now. */
    purgeOutbox: {
      params: { retentionHours: { type: "number", integer: true, min: 0, optional: true } },
      async handler(ctx: Context<{ retentionHours?: number }>) {
        return { purged: await purgePublished(this.em(), ctx.params.retentionHours ?? getConfig().outboxRetentionH) };
      },
    },
  },
  events: {
    "payment.completed": {
      params: { eventId: { type: "uuid" } },
      handler(ctx: Context<{ eventId: string }>) {
        this.publishNow(ctx.params.eventId);
      },
    },
    "payment.refunded": {
      params: { eventId: { type: "uuid" } },
      handler(ctx: Context<{ eventId: string }>) {
        this.publishNow(ctx.params.eventId);
      },
    },
  },
  methods: {
    /**
     * Fast path: publish one row right after its transaction committed; failures are the relay's.
     * Not awaited by the event handler: a local emit waits for its handlers, and the payment must
     * not wait for Kafka. Left to the relay while Kafka is known to be down, or when too many sends
     * are pending.
     */
    publishNow(eventId: string) {
      if (!this.kafkaHealthy || this.fastPath.size >= MAX_FAST_PATH_IN_FLIGHT) return;
      const sending = this.publishOne(eventId).finally(() => this.fastPath.delete(sending));
      this.fastPath.add(sending);
    },
    async publishOne(eventId: string) {
      try {
        const row = await publishEvent(this.em(), eventId, (rows) => this.publishRows(rows));
        if (row) this.metrics.published([row], "event");
      } catch (err) {
        this.metrics.failed("event");
        this.logger.warn(`Outbox event ${eventId} not published yet (${(err as Error).message}); the relay will retry`);
      }
    },
    async publishRows(rows: OutboxRow[]) {
      try {
        for (const topic of new Set(rows.map((row) => row.topic))) {
          await this.kafka.send({ topic, messages: rows.filter((row) => row.topic === topic).map(toKafkaMessage) });
        }
        this.kafkaHealthy = true;
      } catch (err) {
        this.kafkaHealthy = false;
        throw err;
      }
    },
    /** Relays batches until nothing old is left; returns the number of rows published. */
    async relayAll() {
      const olderThanMs = getConfig().outboxRelayDelayMs;
      let total = 0;
      for (;;) {
        const rows = await relayBatch(this.em(), { olderThanMs, limit: RELAY_BATCH, leaseMs: RELAY_LEASE_MS }, (batch) =>
          this.publishRows(batch),
        );
        this.metrics.published(rows, "relay");
        total += rows.length;
        if (rows.length < RELAY_BATCH || this.stopping) return total;
      }
    },
    async relayTick() {
      try {
        const published = await this.relayAll();
        if (published > 0) this.logger.info(`Outbox relay published ${published} delayed row(s)`);
        if (!this.kafkaHealthy) {
          // Nothing was old enough to prove Kafka is back: ask it, so the fast path resumes.
          await this.kafka.connect();
          this.kafkaHealthy = true;
        }
      } catch (err) {
        this.metrics.failed("relay");
        this.logger.warn(`Outbox relay failed, retrying next tick: ${(err as Error).message}`);
      }
    },
    async purgeTick() {
      try {
        const purged = await purgePublished(this.em(), getConfig().outboxRetentionH);
        if (purged > 0) this.logger.info(`Outbox purge deleted ${purged} row(s) published over ${getConfig().outboxRetentionH} h ago`);
      } catch (err) {
        this.logger.warn(`Outbox purge failed, retrying later: ${(err as Error).message}`);
      }
    },
    /** On a timer of its own, so the gauges stay current while Kafka is down and a relay hangs. */
    async measureBacklog() {
      if (this.measuring) return;
      this.measuring = true;
      try {
        this.metrics.backlog(await outboxBacklog(this.em()));
      } catch (err) {
        this.logger.warn(`Outbox backlog not measured: ${(err as Error).message}`);
      } finally {
        this.measuring = false;
      }
    },
    /** One tick at a time per node (a timeout chain, not an interval, so ticks never overlap). */
    scheduleRelay() {
      if (this.stopping) return;
      this.relayTimer = setTimeout(() => {
        this.relayRunning = this.relayTick().finally(() => {
          this.relayRunning = undefined;
          this.scheduleRelay();
        });
      }, getConfig().outboxRelayIntervalMs);
    },
  },
  created() {
    this.metrics = new OutboxMetrics(this.broker);
    this.kafkaHealthy = true;
    this.stopping = false;
    this.fastPath = new Set();
    this.measuring = false;
  },
  started() {
    this.scheduleRelay();
    this.purgeTimer = setInterval(() => {
      if (!this.purging) this.purging = this.purgeTick().finally(() => (this.purging = undefined));
    }, PURGE_EVERY_MS);
    if (this.broker.isMetricsEnabled()) {
      this.metricsTimer = setInterval(() => void this.measureBacklog(), getConfig().outboxRelayIntervalMs);
    }
  },
  async stopped() {
    this.stopping = true;
    clearTimeout(this.relayTimer);
    clearInterval(this.metricsTimer);
    clearInterval(this.purgeTimer);
    await Promise.all([this.relayRunning, this.purging, ...this.fastPath]);
  },
};

export default KafkaBridgeService;
