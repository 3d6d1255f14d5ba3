import { randomUUID } from "node:crypto";
import type { IHeaders, KafkaMessage } from "kafkajs";
import type { KafkaConnection } from "../kafka/kafka-connection";
import { EVENT_ID_HEADER } from "../kafka/outbox";
import { DLQ_HEADERS } from "./data-platform-consumer";

/** A DLQ topic and the main topic its letters came from (and are replayed to). */
export interface DeadLetterTopic {
  topic: string;
  dlqTopic: string;
}

/** A dead-lettered message not replayed since (SPEC §7 `GET /api/admin/dlq`). */
export interface DeadLetter {
  eventId: string;
  topic: string;
  reason: string;
  error: string | null;
  status: number | null;
  attempts: number;
  deadLetteredAt: string;
}

/** Header of the marker written to the DLQ when a letter is replayed: later listings leave it out. */
export const REPLAYED_HEADER = "dlq-replayed-at";

interface DlqRecord {
  dlqTopic: string;
  message: KafkaMessage;
}

const READ_TIMEOUT_MS = 30_000;

function header(headers: IHeaders | undefined, name: string): string | null {
  const value = headers?.[name];
  if (value === undefined) return null;
  return (Array.isArray(value) ? value[0] : value)?.toString() ?? null;
}

/**
 * Reads every record of the DLQ topics, from the beginning up to their current end, with a
 * throwaway consumer group (deleted afterwards): reading a topic whole needs a group in kafkajs.
 */
async function readAll(connection: KafkaConnection, dlqTopics: string[]): Promise<DlqRecord[]> {
  await connection.ensureTopics();
  const { kafka, sockets } = connection.consumerClient();
  const admin = kafka.admin();
  const groupId = `dlq-reader-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, sessionTimeout: 10_000 });
  try {
    await admin.connect();
    const remaining = new Map<string, bigint>();
    for (const topic of dlqTopics) {
      for (const { partition, high, low } of await admin.fetchTopicOffsets(topic)) {
        if (BigInt(high) > BigInt(low)) remaining.set(`${topic}/${partition}`, BigInt(high));
      }
    }
    if (remaining.size === 0) return [];
    const records: DlqRecord[] = [];
    await consumer.connect();
    await consumer.subscribe({ topics: dlqTopics, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`DLQ not read within ${READ_TIMEOUT_MS} ms`)), READ_TIMEOUT_MS);
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ topic, partition, message }) => {
            const key = `${topic}/${partition}`;
            const end = remaining.get(key);
            if (end === undefined) return;
            // Records written after the listing started are left for the next one.
            if (BigInt(message.offset) < end) records.push({ dlqTopic: topic, message });
            if (BigInt(message.offset) + 1n >= end) remaining.delete(key);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    return records;
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    sockets.destroyAll();
  }
}

/** The latest record per eventId, when it is a letter (not a replay marker). */
function outstanding(records: DlqRecord[], topics: DeadLetterTopic[]): Array<DlqRecord & { eventId: string; topic: string }> {
  const latest = new Map<string, DlqRecord>();
  const sorted = [...records].sort((a, b) => Number(BigInt(a.message.timestamp) - BigInt(b.message.timestamp)));
  for (const record of sorted) {
    const eventId = header(record.message.headers, EVENT_ID_HEADER);
    if (eventId) latest.set(`${record.dlqTopic}|${eventId}`, record);
  }
  const mainTopic = new Map(topics.map((t) => [t.dlqTopic, t.topic]));
  return [...latest.values()]
    .filter((record) => header(record.message.headers, REPLAYED_HEADER) === null)
    .map((record) => ({ ...record, eventId: header(record.message.headers, EVENT_ID_HEADER) as string, topic: mainTopic.get(record.dlqTopic) ?? record.dlqTopic }));
}

function toView(record: DlqRecord & { eventId: string; topic: string }): DeadLetter {
  const headers = record.message.headers;
  const status = header(headers, DLQ_HEADERS.status);
  const failedAt = header(headers, DLQ_HEADERS.failedAt);
  return {
    eventId: record.eventId,
    topic: record.topic,
    reason: header(headers, DLQ_HEADERS.reason) ?? "unknown",
    error: header(headers, DLQ_HEADERS.error),
    status: status === null ? null : Number(status),
    attempts: Number(header(headers, DLQ_HEADERS.attempts) ?? 0),
    deadLetteredAt: failedAt ?? new Date(Number(record.message.timestamp)).toISOString(),
  };
}

/** Letters not replayed yet, newest first. */
export async function listDeadLetters(connection: KafkaConnection, topics: DeadLetterTopic[], limit = 100): Promise<DeadLetter[]> {
  const records = await readAll(connection, topics.map((t) => t.dlqTopic));
  return outstanding(records, topics)
    .map(toView)
    .sort((a, b) => b.deadLetteredAt.localeCompare(a.deadLetteredAt))
    .slice(0, limit);
}

/**
 * Re-publishes outstanding letters (all, or those of `eventIds`) to their main topic with their
 * original key and headers, then writes a replay marker to the DLQ so they are not listed (or
 * replayed) again. The data platform applies each eventId once, so a replay that is repeated —
 * or that crashes between the two writes — applies nothing twice. Returns the eventIds replayed.
 */
export async function replayDeadLetters(connection: KafkaConnection, topics: DeadLetterTopic[], eventIds?: string[]): Promise<string[]> {
  const wanted = eventIds ? new Set(eventIds.map((id) => id.toLowerCase())) : null;
  const letters = outstanding(await readAll(connection, topics.map((t) => t.dlqTopic)), topics).filter(
    (record) => !wanted || wanted.has(record.eventId.toLowerCase()),
  );
  const replayedAt = new Date().toISOString();
  for (const letter of letters) {
    const original: IHeaders = {};
    for (const [name, value] of Object.entries(letter.message.headers ?? {})) {
      if (value !== undefined && !name.startsWith("dlq-")) original[name] = value;
    }
    await connection.send({ topic: letter.topic, messages: [{ key: letter.message.key, value: letter.message.value, headers: original }] });
    await connection.send({
      topic: letter.dlqTopic,
      messages: [{ key: letter.message.key, value: null, headers: { [EVENT_ID_HEADER]: letter.eventId, [REPLAYED_HEADER]: replayedAt } }],
    });
  }
  return letters.map((letter) => letter.eventId);
}
