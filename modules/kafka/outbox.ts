import type { EntityManager } from "@mikro-orm/postgresql";
import type { IHeaders } from "kafkajs";

/** An outbox row still to publish (columns of outbox_event). */
export interface OutboxRow {
  id: number;
  eventId: string;
  messageKey: string;
  payload: Record<string, unknown>;
  /** As the driver returns timestamptz from raw SQL: text such as "2026-11-25 10:00:00.123+00". */
  createdAt: string | Date;
}

export interface OutboxMessage {
  key: string;
  value: string;
  headers: IHeaders;
}

export const EVENT_ID_HEADER = "event-id";

/** The Kafka message of an outbox row (SPEC §4): key = reservationId, header event-id, JSON value. */
export function toKafkaMessage(row: Pick<OutboxRow, "eventId" | "messageKey" | "payload">): OutboxMessage {
  return { key: row.messageKey, value: JSON.stringify(row.payload), headers: { [EVENT_ID_HEADER]: row.eventId } };
}

const ROW_COLUMNS = `id, event_id as "eventId", message_key as "messageKey", payload, created_at as "createdAt"`;

/** Publishes rows to Kafka; resolves only when Kafka acknowledged all of them. */
export type PublishRows = (rows: OutboxRow[]) => Promise<void>;

/**
 * Marks rows published. `published_at is null` keeps the first publish time when the event path
 * and the relay both sent a row (a duplicate on the topic, deduplicated downstream by eventId).
 */
export async function markPublished(em: EntityManager, eventIds: string[]): Promise<void> {
  if (eventIds.length === 0) return;
  await em.execute(
    "update outbox_event set published_at = now(), attempts = attempts + 1 where event_id in (?) and published_at is null",
    [eventIds],
  );
}

/** Counts a failed publish attempt (after the relay's transaction rolled back). */
export async function countFailedAttempt(em: EntityManager, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await em.execute("update outbox_event set attempts = attempts + 1 where id in (?) and published_at is null", [ids]);
}

/**
 * Fast path, right after the payment committed: publish the row of one event if nobody did yet.
 * No row lock is held while Kafka answers, so a slow Kafka cannot pin database connections.
 * Returns the row published, or null when there was nothing left to publish.
 */
export async function publishEvent(em: EntityManager, eventId: string, publish: PublishRows): Promise<OutboxRow | null> {
  const [row] = await em.execute<OutboxRow[]>(
    `select ${ROW_COLUMNS} from outbox_event where event_id = ? and published_at is null`,
    [eventId],
  );
  if (!row) return null;
  await publish([row]);
  await markPublished(em, [row.eventId]);
  return row;
}

export interface RelayOptions {
  /** Rows younger than this are left to the fast path. */
  olderThanMs: number;
  limit: number;
}

/**
 * Slow path: claims up to `limit` old unpublished rows (skip locked, so several nodes take
 * disjoint batches), publishes them as one batch and marks them, all in one transaction: a row is
 * marked only if Kafka acknowledged it, and a crash before the commit leaves it to the next round.
 * Returns the rows published.
 */
export async function relayBatch(em: EntityManager, options: RelayOptions, publish: PublishRows): Promise<OutboxRow[]> {
  let claimed: OutboxRow[] = [];
  try {
    return await em.transactional(async (tx) => {
      claimed = await tx.execute<OutboxRow[]>(
        `select ${ROW_COLUMNS} from outbox_event
          where published_at is null and created_at < now() - make_interval(secs => ?)
          order by id limit ? for update skip locked`,
        [options.olderThanMs / 1000, options.limit],
      );
      if (claimed.length === 0) return [];
      await publish(claimed);
      await markPublished(tx, claimed.map((row) => row.eventId));
      return claimed;
    });
  } catch (err) {
    await countFailedAttempt(em, claimed.map((row) => row.id)).catch(() => undefined);
    throw err;
  }
}

export interface OutboxBacklog {
  unpublished: number;
  /** Age of the oldest unpublished row in ms (0 when none): how far publishing lags behind. */
  oldestAgeMs: number;
}

export async function outboxBacklog(em: EntityManager): Promise<OutboxBacklog> {
  const [row] = await em.execute<Array<{ unpublished: number; oldestAgeMs: number | null }>>(
    `select count(*)::int as unpublished,
            (extract(epoch from now() - min(created_at)) * 1000)::float8 as "oldestAgeMs"
       from outbox_event where published_at is null`,
  );
  return { unpublished: row.unpublished, oldestAgeMs: Math.max(0, row.oldestAgeMs ?? 0) };
}
