import { EntitySchema } from "@mikro-orm/core";

/**
 * A message that must reach Kafka, written in the same transaction as the change it reports.
 * `publishedAt` is set only after Kafka acknowledged it.
 */
export class OutboxEvent {
  id!: number;
  eventId!: string;
  topic!: string;
  messageKey!: string;
  payload!: Record<string, unknown>;
  createdAt: Date = new Date();
  publishedAt?: Date | null;
  attempts = 0;
}

export const OutboxEventSchema = new EntitySchema<OutboxEvent>({
  class: OutboxEvent,
  tableName: "outbox_event",
  properties: {
    id: { type: "integer", columnType: "bigint", primary: true, autoincrement: true },
    eventId: { type: "uuid", fieldName: "event_id", unique: true },
    topic: { type: "string", length: 200 },
    messageKey: { type: "string", length: 200, fieldName: "message_key" },
    payload: { type: "json" },
    createdAt: { type: "Date", columnType: "timestamptz", fieldName: "created_at", defaultRaw: "now()" },
    publishedAt: { type: "Date", columnType: "timestamptz", nullable: true, fieldName: "published_at" },
    attempts: { type: "integer" },
  },
});
