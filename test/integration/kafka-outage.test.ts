/**
 * Stops the shared Kafka broker (scripts/infra.sh down) while payments are made, then starts it
 * again. Other test files that use Kafka must not run at the same time: jest runs this file alone.
 */
import { execFile } from "node:child_process";
import { connect } from "node:net";
import { resolve } from "node:path";
import { promisify } from "node:util";
import type { ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { startDataPlatformStandIn, type DataPlatformStandIn } from "../../modules/data-platform/standin-server";
import { OUTBOX_METRICS } from "../../modules/kafka/outbox-metrics";
import DataPlatformService from "../../services/data-platform.service";
import KafkaBridgeService from "../../services/kafka-bridge.service";
import { startNode, stopNodes } from "../support/nodes";
import {
  deleteTestTopics,
  fakePayment,
  outboxState,
  recordPayment,
  standInRecords,
  topicMessageCount,
  waitFor,
} from "../support/kafka-payments";

Object.assign(process.env, {
  OUTBOX_RELAY_INTERVAL_MS: "500",
  OUTBOX_RELAY_DELAY_MS: "1000",
  DATA_PLATFORM_RETRY_BASE_MS: "50",
  DATA_PLATFORM_RETRY_MAX_MS: "1000",
});
resetConfig();

const INFRA = resolve(__dirname, "../../scripts/infra.sh");
const OUTAGE_TEST_MS = 150_000;

async function infra(command: "down" | "kafka-up"): Promise<void> {
  await promisify(execFile)("bash", [INFRA, command], { timeout: 150_000 });
}

function kafkaListening(): Promise<boolean> {
  const [host, port] = getConfig().kafkaBrokers[0].split(":");
  return new Promise((done) => {
    const socket = connect({ host, port: Number(port) });
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => done(false));
  });
}

describe("Kafka outage: payments made while Kafka is down all arrive once it is back", () => {
  let standIn: DataPlatformStandIn;
  let node: ServiceBroker | undefined;
  let lateNode: ServiceBroker | undefined;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  const em = () => (node!.getLocalService("kafkaBridge") as unknown as OrmMethods).em();
  const gauge = (name: string) => node!.metrics.getMetric(name)?.get()?.value as number | undefined;
  const applied = async (eventIds: string[]) => {
    const wanted = new Set(eventIds);
    return (await standInRecords(standIn.url)).filter((r) => wanted.has(r.eventId));
  };

  beforeAll(async () => {
    process.on("unhandledRejection", onUnhandled);
    if (!(await kafkaListening())) await infra("kafka-up"); // a previous run died mid-outage
    standIn = await startDataPlatformStandIn({ port: 0, databaseUrl: getConfig().databaseUrl });
    process.env.DATA_PLATFORM_URL = standIn.url;
    resetConfig();
    node = await startNode([KafkaBridgeService, DataPlatformService], {
      nodeID: "outage-1",
      metrics: { enabled: true, reporter: [] },
    });
    // The whole path works before the outage (and the consumer group has joined).
    const warmUp = fakePayment();
    await recordPayment(node, em(), warmUp);
    await waitFor(async () => (await applied([warmUp.eventId])).length === 1, 60_000, "the warm-up payment");
  }, 90_000);

  afterAll(async () => {
    // Whatever happened above, leave Kafka running for everyone else.
    try {
      if (!(await kafkaListening())) await infra("kafka-up");
    } finally {
      await stopNodes(node, lateNode);
      process.off("unhandledRejection", onUnhandled);
      await standIn?.close();
      await deleteTestTopics();
    }
  }, 180_000);

  it(
    "publishes and applies all 100 payments exactly once after Kafka comes back",
    async () => {
      const topic = getConfig().kafkaTopicPaymentCompleted;
      const onTopicBefore = await topicMessageCount(topic);

      await infra("down");
      expect(await kafkaListening()).toBe(false);

      const payments = Array.from({ length: 100 }, (_, i) => fakePayment({ concertId: 1 + (i % 3) }));
      await Promise.all(payments.map((payment) => recordPayment(node!, em(), payment)));
      const ids = payments.map((p) => p.eventId);

      // Nothing can be acknowledged while Kafka is down: every row waits in the outbox, measured.
      expect(await outboxState(em())).toMatchObject({ unpublished: 100 });
      await waitFor(() => gauge(OUTBOX_METRICS.backlog) === 100, 10_000, "the backlog gauge at 100");
      await waitFor(() => (gauge(OUTBOX_METRICS.lag) ?? 0) > 0, 10_000, "a publish lag above 0");
      expect(await applied(ids)).toEqual([]);
      // A node started during the outage comes up anyway (Kafka is connected in the background).
      lateNode = await startNode([KafkaBridgeService, DataPlatformService], {
        nodeID: "outage-2",
        metrics: { enabled: true, reporter: [] },
      });

      await infra("kafka-up");

      await waitFor(async () => (await outboxState(em())).unpublished === 0, 90_000, "the outbox to drain", 500);
      const records = await waitFor(async () => {
        const found = await applied(ids);
        return found.length === 100 && found;
      }, 90_000, "all 100 payments applied", 500);

      // Exactly once at the data platform, with the payload that was paid.
      expect(new Set(records.map((r) => r.eventId)).size).toBe(100);
      const byId = new Map(payments.map((p) => [p.eventId, p]));
      for (const record of records) expect(record.payload).toEqual(byId.get(record.eventId));
      // At least once on the topic (a send that failed late may have been written: that is a duplicate, not a loss).
      expect(await topicMessageCount(topic)).toBeGreaterThanOrEqual(onTopicBefore + 100);
      await waitFor(() => gauge(OUTBOX_METRICS.backlog) === 0, 10_000, "the backlog gauge back at 0");
      // Published by this node's relay or the late node's: together all 100, measured on the way.
      const published = [node!, lateNode!].reduce((sum, broker) => sum + (broker.metrics.getMetric(OUTBOX_METRICS.latency)?.get()?.count ?? 0), 0);
      expect(published).toBeGreaterThanOrEqual(100);
      expect(unhandled).toEqual([]);
    },
    OUTAGE_TEST_MS,
  );
});
