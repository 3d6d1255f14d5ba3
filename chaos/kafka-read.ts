/** Reads a whole Kafka topic once (a throwaway consumer group) and returns each message's eventId. */
import { randomBytes } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";

function eventIdOf(headers: Record<string, unknown> | undefined, value: Buffer | null): string | undefined {
  const header = headers?.["event-id"];
  if (header) return Buffer.isBuffer(header) ? header.toString() : String(header);
  try {
    return (JSON.parse(value?.toString() ?? "null") as { eventId?: string } | null)?.eventId;
  } catch {
    return undefined;
  }
}

export async function readTopicEventIds(brokers: string, topic: string, timeoutMs = 30_000): Promise<string[]> {
  const kafka = new Kafka({ clientId: "chaos-check", brokers: brokers.split(","), logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  const admin = kafka.admin();
  await admin.connect();
  let highs: Array<{ partition: number; high: string }>;
  try {
    highs = (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, high: p.high }));
  } finally {
    await admin.disconnect();
  }
  const pending = new Map(highs.filter((p) => Number(p.high) > 0).map((p) => [p.partition, Number(p.high) - 1]));
  if (pending.size === 0) return [];
  const ids: string[] = [];
  const consumer = kafka.consumer({ groupId: `chaos-check-${randomBytes(4).toString("hex")}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out; ${pending.size} partitions unread`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const id = eventIdOf(message.headers as Record<string, unknown>, message.value);
          if (id) ids.push(id);
          const last = pending.get(partition);
          if (last !== undefined && Number(message.offset) >= last) pending.delete(partition);
          if (pending.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return ids;
}
