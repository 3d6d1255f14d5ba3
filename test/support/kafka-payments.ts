/**
 * Test helpers for the payment.completed pipeline: payments as the payments service records them
 * (an outbox row with the SPEC §4 payload, then the internal event), an independent reader of a
 * Kafka topic, the stand-in's HTTP endpoints, and polling.
 */
import { randomUUID } from "node:crypto";
import type { EntityManager } from "@mikro-orm/postgresql";
import { Kafka, logLevel, type Consumer, type IHeaders } from "kafkajs";
import type { ServiceBroker } from "moleculer";
import { getConfig } from "../../lib/config";
import type { PaymentCompletedEvent } from "../../modules/payments/payment-rules";

/** The SPEC §4 message, as the payments service defines it. */
export type PaymentCompletedPayload = PaymentCompletedEvent;

let nextId = 1;

/** A payment.completed payload with fresh ids; override what the test cares about. */
export function fakePayment(overrides: Partial<PaymentCompletedPayload> = {}): PaymentCompletedPayload {
  const id = nextId++;
  const seatIds = overrides.seatIds ?? [id * 10 + 1, id * 10 + 2];
  return {
    eventId: randomUUID(),
    paymentId: id,
    reservationId: 1000 + id,
    userId: `user_${id}`,
    concertId: 1,
    scheduleId: 1,
    seatIds,
    amount: seatIds.length * 50_000,
    paidAt: new Date().toISOString(),
    ...overrides,
  };
}

/** The outbox row the payments service writes in the payment's transaction. */
export async function insertOutboxRow(em: EntityManager, payload: PaymentCompletedPayload, ageMs = 0): Promise<void> {
  await em.execute(
    `insert into outbox_event (event_id, topic, message_key, payload, created_at)
     values (?, ?, ?, ?::jsonb, now() - make_interval(secs => ?))`,
    [payload.eventId, getConfig().kafkaTopicPaymentCompleted, String(payload.reservationId), JSON.stringify(payload), ageMs / 1000],
  );
}

/** A committed payment as the payments service announces it: outbox row, then the event. */
export async function recordPayment(broker: ServiceBroker, em: EntityManager, payload: PaymentCompletedPayload): Promise<void> {
  await insertOutboxRow(em, payload);
  await broker.emit("payment.completed", payload);
}

export async function outboxState(em: EntityManager): Promise<{ total: number; unpublished: number }> {
  const [row] = await em.execute<Array<{ total: number; unpublished: number }>>(
    "select count(*)::int as total, (count(*) filter (where published_at is null))::int as unpublished from outbox_event",
  );
  return row;
}

/** Polls `check` until it returns a truthy value (returned), or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  timeoutMs: number,
  what: string,
  intervalMs = 200,
): Promise<Exclude<T, false | null | undefined | 0 | "">> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Exclude<T, false | null | undefined | 0 | "">;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface ReadMessage {
  key: string | null;
  value: string;
  headers: Record<string, string>;
  partition: number;
  offset: string;
}

function textHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) if (value !== undefined) out[name] = String(value);
  return out;
}

export function testKafka(clientId = "test-reader"): Kafka {
  return new Kafka({ clientId, brokers: getConfig().kafkaBrokers, logLevel: logLevel.NOTHING });
}

/** An independent consumer (its own group) that records everything on a topic from the start. */
export class TopicReader {
  readonly messages: ReadMessage[] = [];
  private consumer?: Consumer;

  constructor(private readonly topic: string) {}

  async start(): Promise<this> {
    const kafka = testKafka();
    const admin = kafka.admin();
    try {
      await admin.connect();
      // The topic may not exist yet (the services create it); create it the way they do.
      await admin.createTopics({ topics: [{ topic: this.topic, numPartitions: getConfig().kafkaTopicPartitions }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
    this.consumer = kafka.consumer({ groupId: `reader-${randomUUID()}` });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ partition, message }) => {
        this.messages.push({
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? "",
          headers: textHeaders(message.headers),
          partition,
          offset: message.offset,
        });
      },
    });
    return this;
  }

  /** Messages whose event-id header is `eventId`. */
  withEventId(eventId: string): ReadMessage[] {
    return this.messages.filter((m) => m.headers["event-id"] === eventId);
  }

  async close(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
  }
}

/** Removes this test file's topics from the shared Kafka (best effort). */
export async function deleteTestTopics(): Promise<void> {
  const config = getConfig();
  const admin = testKafka("test-cleanup").admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const topics = [
      config.kafkaTopicPaymentCompleted,
      config.kafkaTopicPaymentCompletedDlq,
      config.kafkaTopicPaymentRefunded,
      config.kafkaTopicPaymentRefundedDlq,
    ].filter((t) => existing.has(t));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } catch {
    // leftovers only cost disk space
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** The stand-in's view: applied records and request counters. */
export async function standInRecords(
  url: string,
  path: "/reservations" | "/refunds" = "/reservations",
): Promise<Array<{ eventId: string; payload: Record<string, unknown>; appliedAt: string }>> {
  const response = await fetch(`${url}${path}`);
  return (await response.json()) as Array<{ eventId: string; payload: Record<string, unknown>; appliedAt: string }>;
}

export async function standInStats(url: string): Promise<Record<"requests" | "applied" | "duplicates" | "failed" | "rejected" | "invalid", number>> {
  return (await (await fetch(`${url}/_stats`)).json()) as Record<"requests" | "applied" | "duplicates" | "failed" | "rejected" | "invalid", number>;
}

export async function setStandInFaults(url: string, faults: Record<string, unknown>): Promise<Response> {
  return fetch(`${url}/_faults`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(faults) });
}

/** How many messages the topic holds (sum of its partitions' high watermarks; nothing expires in a test). */
export async function topicMessageCount(topic: string): Promise<number> {
  const admin = testKafka("test-offsets").admin();
  try {
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
