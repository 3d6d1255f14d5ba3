import type { ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { startDataPlatformStandIn, type DataPlatformStandIn } from "../../modules/data-platform/standin-server";
import DataPlatformService from "../../services/data-platform.service";
import KafkaBridgeService from "../../services/kafka-bridge.service";
import { startNode, stopNodes } from "../support/nodes";
import {
  deleteTestTopics,
  fakePayment,
  insertOutboxRow,
  outboxState,
  recordPayment,
  standInRecords,
  topicMessageCount,
  TopicReader,
  waitFor,
} from "../support/kafka-payments";

// The relay looks often and leaves rows younger than 3 s (the default) to the fast path.
process.env.OUTBOX_RELAY_INTERVAL_MS = "300";
process.env.OUTBOX_RELAY_DELAY_MS = "3000";
resetConfig();

const SLOW = 45_000;

describe("kafka bridge: outbox → Kafka topic → data platform (real Kafka, PostgreSQL, NATS)", () => {
  let standIn: DataPlatformStandIn;
  let reader: TopicReader;
  let n1: ServiceBroker;
  let n2: ServiceBroker;
  let topic: string;

  const em = () => (n1.getLocalService("kafkaBridge") as unknown as OrmMethods).em();
  const appliedIds = async () => (await standInRecords(standIn.url)).map((r) => r.eventId);
  const outboxRow = async (eventId: string) => {
    const [row] = await em().execute<Array<{ publishedAt: string | null; attempts: number }>>(
      `select published_at as "publishedAt", attempts from outbox_event where event_id = ?`,
      [eventId],
    );
    return row;
  };

  beforeAll(async () => {
    standIn = await startDataPlatformStandIn({ port: 0, databaseUrl: getConfig().databaseUrl });
    process.env.DATA_PLATFORM_URL = standIn.url;
    resetConfig();
    topic = getConfig().kafkaTopicPaymentCompleted;
    reader = await new TopicReader(topic).start();
    n1 = await startNode([KafkaBridgeService, DataPlatformService], { nodeID: "bridge-1" });
    n2 = await startNode([KafkaBridgeService], { nodeID: "bridge-2" });
  }, SLOW);

  afterAll(async () => {
    await stopNodes(n1, n2);
    await reader?.close();
    await standIn?.close();
    await deleteTestTopics();
  }, SLOW);

  it(
    "turns a payment into one message (key, event-id header, SPEC body) and one applied record",
    async () => {
      const before = await topicMessageCount(topic);
      const payment = fakePayment({ concertId: 7, scheduleId: 70, seatIds: [701, 702, 703] });
      await recordPayment(n1, em(), payment);

      await waitFor(async () => (await appliedIds()).includes(payment.eventId), SLOW, "the stand-in to apply the payment");
      await waitFor(() => reader.withEventId(payment.eventId).length > 0, SLOW, "the independent reader to see the message");
      const [message] = reader.withEventId(payment.eventId);
      expect(message.key).toBe(String(payment.reservationId));
      expect(message.headers["event-id"]).toBe(payment.eventId);
      expect(JSON.parse(message.value)).toEqual(payment);

      const records = (await standInRecords(standIn.url)).filter((r) => r.eventId === payment.eventId);
      expect(records).toHaveLength(1);
      expect(records[0].payload).toEqual(payment);

      // Published by the fast path once; a relay round afterwards finds nothing to re-send.
      expect(await outboxRow(payment.eventId)).toMatchObject({ publishedAt: expect.any(String), attempts: 1 });
      expect(await n1.call("kafkaBridge.relayOutbox")).toEqual({ published: 0 });
      expect(await topicMessageCount(topic)).toBe(before + 1);
    },
    SLOW,
  );

  it(
    "re-sends a row whose event never arrived (lost in transit) through the relay",
    async () => {
      const payment = fakePayment();
      await insertOutboxRow(em(), payment); // committed, but no payment.completed event
      expect(await outboxRow(payment.eventId)).toMatchObject({ publishedAt: null, attempts: 0 });

      await waitFor(async () => (await outboxRow(payment.eventId)).publishedAt, SLOW, "the relay to publish the row");
      await waitFor(async () => (await appliedIds()).includes(payment.eventId), SLOW, "the stand-in to apply it");
      await waitFor(() => reader.withEventId(payment.eventId).length === 1, SLOW, "the message on the topic");
      expect(JSON.parse(reader.withEventId(payment.eventId)[0].value)).toEqual(payment);
    },
    SLOW,
  );

  it(
    "publishes each row of a backlog exactly once when two nodes relay it at the same time",
    async () => {
      const before = await topicMessageCount(topic);
      const payments = Array.from({ length: 250 }, () => fakePayment());
      // Old rows, as left behind while the bridge was down.
      for (const payment of payments) await insertOutboxRow(em(), payment, 60_000);

      const [a, b] = await Promise.all([n1.call("kafkaBridge.relayOutbox"), n2.call("kafkaBridge.relayOutbox")]);
      await waitFor(async () => (await outboxState(em())).unpublished === 0, SLOW, "an empty outbox");
      // Both nodes' timers relay too, so the two calls need not cover everything, but never overlap.
      expect((a as { published: number }).published + (b as { published: number }).published).toBeLessThanOrEqual(250);
      expect(await topicMessageCount(topic)).toBe(before + 250);

      const wanted = new Set(payments.map((p) => p.eventId));
      await waitFor(
        async () => (await appliedIds()).filter((id) => wanted.has(id)).length === 250,
        SLOW,
        "the stand-in to apply all 250",
      );
      const attempts = await em().execute<Array<{ attempts: number }>>("select attempts from outbox_event where event_id in (?)", [
        [...wanted],
      ]);
      expect(attempts.every((row) => row.attempts === 1)).toBe(true);
    },
    SLOW,
  );

  it(
    "applies a payment once when its event is delivered twice, to both nodes",
    async () => {
      const payment = fakePayment();
      await insertOutboxRow(em(), payment);
      // Both nodes' bridges race for the row; a duplicate on the topic is allowed, a second apply is not.
      await Promise.all([n1.broadcast("payment.completed", payment), n2.broadcast("payment.completed", payment)]);

      await waitFor(async () => (await appliedIds()).includes(payment.eventId), SLOW, "the stand-in to apply it");
      await waitFor(async () => (await outboxRow(payment.eventId)).publishedAt, SLOW, "the row marked published");
      expect(reader.withEventId(payment.eventId).length).toBeGreaterThanOrEqual(1);
      expect((await appliedIds()).filter((id) => id === payment.eventId)).toHaveLength(1);
    },
    SLOW,
  );
});
