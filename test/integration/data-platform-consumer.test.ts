import type { ServiceBroker } from "moleculer";
import type { Producer } from "kafkajs";
import { getConfig, resetConfig } from "../../lib/config";
import { DLQ_HEADERS } from "../../modules/data-platform/data-platform-consumer";
import { startDataPlatformStandIn, type DataPlatformStandIn } from "../../modules/data-platform/standin-server";
import { toKafkaMessage } from "../../modules/kafka/outbox";
import DataPlatformService from "../../services/data-platform.service";
import { startNode, stopNodes } from "../support/nodes";
import {
  deleteTestTopics,
  fakePayment,
  setStandInFaults,
  standInRecords,
  standInStats,
  testKafka,
  TopicReader,
  waitFor,
  type PaymentCompletedPayload,
} from "../support/kafka-payments";

// Fast retries and a short HTTP timeout.
Object.assign(process.env, {
  DATA_PLATFORM_RETRY_BASE_MS: "20",
  DATA_PLATFORM_RETRY_MAX_MS: "200",
  DATA_PLATFORM_TIMEOUT_MS: "500",
});
resetConfig();

const SLOW = 45_000;

describe("data-platform consumer (real Kafka, stand-in over HTTP)", () => {
  let standIn: DataPlatformStandIn;
  let producer: Producer;
  let dlq: TopicReader;
  let node: ServiceBroker;

  const publish = (payments: Array<PaymentCompletedPayload | { key: string; value: string; eventId: string }>) =>
    producer.send({
      topic: getConfig().kafkaTopicPaymentCompleted,
      acks: -1,
      messages: payments.map((p) =>
        "paymentId" in p
          ? toKafkaMessage({ eventId: p.eventId, messageKey: String(p.reservationId), payload: { ...p } })
          : { key: p.key, value: p.value, headers: { "event-id": p.eventId } },
      ),
    });
  const appliedCount = async (eventIds: string[]) => {
    const wanted = new Set(eventIds);
    return (await standInRecords(standIn.url)).filter((r) => wanted.has(r.eventId)).length;
  };

  beforeAll(async () => {
    standIn = await startDataPlatformStandIn({ port: 0, databaseUrl: getConfig().databaseUrl });
    process.env.DATA_PLATFORM_URL = standIn.url;
    resetConfig();
    dlq = await new TopicReader(getConfig().kafkaTopicPaymentCompletedDlq).start();
    const kafka = testKafka("test-producer");
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: getConfig().kafkaTopicPaymentCompleted, numPartitions: 3 }], waitForLeaders: true });
    await admin.disconnect();
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    node = await startNode([DataPlatformService], { nodeID: "dp-1" });
  }, SLOW);

  afterAll(async () => {
    await stopNodes(node);
    await producer?.disconnect();
    await dlq?.close();
    await standIn?.close();
    await deleteTestTopics();
  }, SLOW);

  afterEach(() => setStandInFaults(standIn.url, {}));

  it(
    "delivers every message exactly once while the platform fails half of the requests",
    async () => {
      const before = await standInStats(standIn.url);
      await setStandInFaults(standIn.url, { failRate: 0.5 });
      const payments = Array.from({ length: 40 }, () => fakePayment());
      await publish(payments);

      const ids = payments.map((p) => p.eventId);
      await waitFor(async () => (await appliedCount(ids)) === 40, SLOW, "all 40 applied");
      const after = await standInStats(standIn.url);
      expect(after.failed - before.failed).toBeGreaterThan(0); // the faults really happened
      expect(after.applied - before.applied).toBe(40);
      const records = (await standInRecords(standIn.url)).filter((r) => ids.includes(r.eventId));
      expect(records.map((r) => r.payload)).toEqual(expect.arrayContaining(payments));
      expect(dlq.messages.filter((m) => ids.includes(m.headers["event-id"]))).toEqual([]);
    },
    SLOW,
  );

  it(
    "parks a message the platform refuses (4xx) in the DLQ with its key, headers and the reason",
    async () => {
      const refused = fakePayment();
      const fine = fakePayment();
      const poison = { key: "poison-key", value: "{not json", eventId: "00000000-0000-4000-8000-000000000001" };
      await setStandInFaults(standIn.url, { rejectEventIds: [refused.eventId] });
      await publish([refused, fine, poison]);

      await waitFor(() => dlq.withEventId(refused.eventId).length > 0 && dlq.withEventId(poison.eventId).length > 0, SLOW, "both in the DLQ");
      await waitFor(async () => (await appliedCount([fine.eventId])) === 1, SLOW, "the good message applied");
      expect(await appliedCount([refused.eventId])).toBe(0);

      const [parked] = dlq.withEventId(refused.eventId);
      expect(parked.key).toBe(String(refused.reservationId));
      expect(JSON.parse(parked.value)).toEqual(refused);
      expect(parked.headers).toMatchObject({
        "event-id": refused.eventId,
        [DLQ_HEADERS.reason]: "rejected",
        [DLQ_HEADERS.status]: "422",
        [DLQ_HEADERS.attempts]: "1",
      });
      expect(parked.headers[DLQ_HEADERS.source]).toMatch(new RegExp(`^${getConfig().kafkaTopicPaymentCompleted.replace(/\./g, "\\.")}/\\d+/\\d+$`));
      const [badJson] = dlq.withEventId(poison.eventId);
      expect(badJson).toMatchObject({ key: "poison-key", value: "{not json" });
      expect(badJson.headers).toMatchObject({ [DLQ_HEADERS.reason]: "rejected", [DLQ_HEADERS.status]: "400" });
      expect(dlq.withEventId(fine.eventId)).toEqual([]);
    },
    SLOW,
  );

  it(
    "applies once when the platform is too slow to answer (timeout, retry, late apply)",
    async () => {
      const before = await standInStats(standIn.url);
      await setStandInFaults(standIn.url, { delayMs: 1500 }); // > DATA_PLATFORM_TIMEOUT_MS
      const payment = fakePayment();
      await publish([payment]);
      await waitFor(async () => (await standInStats(standIn.url)).requests > before.requests, SLOW, "the first attempt");
      await setStandInFaults(standIn.url, {});
      await waitFor(async () => (await standInStats(standIn.url)).duplicates > before.duplicates, SLOW, "the late first attempt to land");
      expect(await appliedCount([payment.eventId])).toBe(1);
      expect(dlq.withEventId(payment.eventId)).toEqual([]);
    },
    SLOW,
  );

  it(
    "redelivers a message whose consumer stopped mid-retry (offset not committed) to the next consumer",
    async () => {
      await setStandInFaults(standIn.url, { failRate: 1 });
      const before = await standInStats(standIn.url);
      const payment = fakePayment();
      await publish([payment]);
      await waitFor(async () => (await standInStats(standIn.url)).failed >= before.failed + 2, SLOW, "failing attempts");

      await stopNodes(node); // like a crash: the delivery is abandoned, nothing committed
      await setStandInFaults(standIn.url, {});
      expect(await appliedCount([payment.eventId])).toBe(0);
      node = await startNode([DataPlatformService], { nodeID: "dp-2" });

      await waitFor(async () => (await appliedCount([payment.eventId])) === 1, SLOW, "redelivery to the new consumer");
      expect(dlq.withEventId(payment.eventId)).toEqual([]);
    },
    SLOW,
  );
});
