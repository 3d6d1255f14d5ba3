import type { ServiceBroker } from "moleculer";
import type { Producer } from "kafkajs";
import { getConfig, resetConfig } from "../../lib/config";
import { startDataPlatformStandIn, type DataPlatformStandIn } from "../../modules/data-platform/standin-server";
import type { DeadLetter } from "../../modules/data-platform/dead-letters";
import { DELIVERY_METRICS } from "../../modules/kafka/delivery-metrics";
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

// Fast retries capped at 200 ms and a short HTTP timeout: an outage of seconds is hundreds of attempts.
Object.assign(process.env, {
  DATA_PLATFORM_RETRY_BASE_MS: "20",
  DATA_PLATFORM_RETRY_MAX_MS: "200",
  DATA_PLATFORM_TIMEOUT_MS: "500",
});
resetConfig();

const SLOW = 60_000;
/** What the v1 retry budget amounted to at these timings: 15 attempts, ~200 ms apart. */
const OLD_BUDGET_MS = 15 * 200;

describe("delivery that never gives up (real Kafka, stand-in over HTTP)", () => {
  let standIn: DataPlatformStandIn;
  let standInPort: number;
  let producer: Producer;
  let dlq: TopicReader;
  let node: ServiceBroker;

  const send = (topic: string, payments: PaymentCompletedPayload[], partition?: number) =>
    producer.send({
      topic,
      acks: -1,
      messages: payments.map((p) => ({
        ...toKafkaMessage({ eventId: p.eventId, messageKey: String(p.reservationId), payload: { ...p } }),
        ...(partition === undefined ? {} : { partition }),
      })),
    });
  const applied = async (eventIds: string[], path: "/reservations" | "/refunds" = "/reservations") => {
    const wanted = new Set(eventIds);
    return (await standInRecords(standIn.url, path)).filter((r) => wanted.has(r.eventId)).map((r) => r.eventId);
  };
  const blockedGauge = (topic: string) =>
    (node.metrics.getMetric(DELIVERY_METRICS.blocked)?.get({ group: getConfig().kafkaConsumerGroup, topic })?.value as number | undefined) ?? 0;

  beforeAll(async () => {
    standIn = await startDataPlatformStandIn({ port: 0, databaseUrl: getConfig().databaseUrl });
    standInPort = Number(new URL(standIn.url).port);
    process.env.DATA_PLATFORM_URL = standIn.url;
    resetConfig();
    const config = getConfig();
    dlq = await new TopicReader(config.kafkaTopicPaymentCompletedDlq).start();
    const kafka = testKafka("test-producer");
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [config.kafkaTopicPaymentCompleted, config.kafkaTopicPaymentRefunded].map((topic) => ({ topic, numPartitions: 3 })),
      waitForLeaders: true,
    });
    await admin.disconnect();
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    node = await startNode([DataPlatformService], { nodeID: "dp-outage", metrics: { enabled: true, reporter: [] } });
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
    "holds back only the partition of a failing message, in order, and reports how long it is blocked",
    async () => {
      const topic = getConfig().kafkaTopicPaymentCompleted;
      const stuck = fakePayment();
      const behind = fakePayment();
      const others = [fakePayment(), fakePayment()];
      await setStandInFaults(standIn.url, { failEventIds: [stuck.eventId] });
      await send(topic, [stuck, behind], 0);
      await send(topic, [others[0]], 1);
      await send(topic, [others[1]], 2);

      // The other partitions go on while partition 0 retries its head message.
      await waitFor(async () => (await applied(others.map((p) => p.eventId))).length === 2, SLOW, "other partitions delivered");
      const before = (await standInStats(standIn.url)).failed;
      await waitFor(async () => (await standInStats(standIn.url)).failed >= before + 3, SLOW, "more retries of the stuck message");
      expect(await applied([stuck.eventId, behind.eventId])).toEqual([]); // nothing behind it overtakes it
      expect(blockedGauge(topic)).toBeGreaterThan(0);

      await setStandInFaults(standIn.url, {});
      await waitFor(async () => (await applied([stuck.eventId, behind.eventId])).length === 2, SLOW, "partition 0 resumes");
      const records = await standInRecords(standIn.url);
      const order = records.filter((r) => [stuck.eventId, behind.eventId].includes(r.eventId)).map((r) => r.eventId);
      expect(order).toEqual([stuck.eventId, behind.eventId]);
      await waitFor(() => blockedGauge(topic) === 0, 5000, "the blocked gauge back to 0");
      expect(dlq.messages).toEqual([]);
    },
    SLOW,
  );

  it(
    "outlasts a platform that is down (connection refused) for 3× the old retry budget: nothing dead-lettered, all applied once",
    async () => {
      await standIn.close();
      const payments = Array.from({ length: 12 }, () => fakePayment());
      await send(getConfig().kafkaTopicPaymentCompleted, payments);
      await new Promise((resolve) => setTimeout(resolve, 3 * OLD_BUDGET_MS + 2000));
      expect(dlq.messages).toEqual([]);

      standIn = await startDataPlatformStandIn({ port: standInPort, databaseUrl: getConfig().databaseUrl });
      const ids = payments.map((p) => p.eventId);
      await waitFor(async () => (await applied(ids)).length === ids.length, SLOW, "all applied after the outage");
      expect((await applied(ids)).sort()).toEqual([...ids].sort()); // each exactly once
      expect(dlq.messages).toEqual([]);
    },
    SLOW,
  );

  it(
    "sends refunds to /refunds, applied once there",
    async () => {
      const refund = fakePayment();
      await send(getConfig().kafkaTopicPaymentRefunded, [refund]);
      await waitFor(async () => (await applied([refund.eventId], "/refunds")).length === 1, SLOW, "the refund applied");
      expect(await applied([refund.eventId], "/reservations")).toEqual([]);
    },
    SLOW,
  );

  it(
    "lists a refused message in the DLQ and replays it once the platform accepts it, applied once",
    async () => {
      const refused = fakePayment();
      await setStandInFaults(standIn.url, { rejectEventIds: [refused.eventId] });
      await send(getConfig().kafkaTopicPaymentCompleted, [refused]);
      await waitFor(() => dlq.withEventId(refused.eventId).length === 1, SLOW, "dead-lettered");

      const listed = await node.call<DeadLetter[], object>("dataPlatform.dlqList", {});
      expect(listed).toEqual([
        expect.objectContaining({ eventId: refused.eventId, topic: getConfig().kafkaTopicPaymentCompleted, reason: "rejected", status: 422, attempts: 1 }),
      ]);
      expect(Date.parse(listed[0].deadLetteredAt)).not.toBeNaN();

      await setStandInFaults(standIn.url, {});
      const replay = await node.call<{ replayed: number }, object>("dataPlatform.dlqReplay", { eventIds: [refused.eventId] });
      expect(replay.replayed).toBe(1);
      await waitFor(async () => (await applied([refused.eventId])).length === 1, SLOW, "applied after the replay");

      // Replayed letters are no longer listed, and a second replay sends nothing.
      expect(await node.call("dataPlatform.dlqList", {})).toEqual([]);
      expect(await node.call("dataPlatform.dlqReplay", {})).toMatchObject({ replayed: 0 });
      expect(await applied([refused.eventId])).toEqual([refused.eventId]);
    },
    SLOW,
  );

  it("refuses bad replay input", async () => {
    await expect(node.call("dataPlatform.dlqReplay", { eventIds: ["not-a-uuid"] })).rejects.toMatchObject({ code: 422 });
    await expect(node.call("dataPlatform.dlqReplay", { eventIds: [] })).rejects.toMatchObject({ code: 422 });
    await expect(node.call("dataPlatform.dlqList", { limit: 0 })).rejects.toMatchObject({ code: 422 });
  });
});
