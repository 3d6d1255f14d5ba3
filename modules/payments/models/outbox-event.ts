import { EntitySchema } from "@mikro-orm/core";

/**
 * A message that must reach Kafka, written in the same transaction as the change it reports.
 * `publishedAt` is set only after Kafka acknowledged it; published rows are purged after
 * OUTBOX_RETENTION_H.
 */
export class OutboxEvent {
  id!: number;
  eventId!: string;
  topic!: string;
  messageKey!: string;
  payload!: Record<string, unknown>;
  createdAt: Date = new Date();
  publishedAt?: Date | null;
  /** A relay that claimed the row sends it until then; afterwards another relay may. */
  claimedUntil?: Date | null;
  attempts = 0;
}

export const OutboxEventSchema = new EntitySchema<OutboxEvent>({
  class: OutboxEvent,
  tableName: "outbox_event",
  properties: {
    id: { type: "integer", columnType: "bigint", primary: true, autoincrement: true },
    eventId: { type: "uuid", fieldName: "event_id" },
    topic: { type: "string", length: 200 },
    messageKey: { type: "string", length: 200, fieldName: "message_key" },
    payload: { type: "json" },
    createdAt: { type: "Date", columnType: "timestamptz", fieldName: "created_at", defaultRaw: "now()" },
    publishedAt: { type: "Date", columnType: "timestamptz", nullable: true, fieldName: "published_at" },
    claimedUntil: { type: "Date", columnType: "timestamptz", nullable: true, fieldName: "claimed_until" },
    attempts: { type: "integer", default: 0 },
  },
  uniques: [{ name: "outbox_event_event_id_key", properties: ["eventId"] }],
  indexes: [
    // The relay scans only what is still to publish; the purge deletes by age of publication.
    {
      name: "outbox_event_unpublished_idx",
      expression: "create index outbox_event_unpublished_idx on outbox_event (id) where published_at is null",
    },
    {
      name: "outbox_event_published_at_idx",
      expression:
        "create index outbox_event_published_at_idx on outbox_event (published_at) where published_at is not null",
    },
  ],
});
