import type { EntityManager } from "@mikro-orm/postgresql";
import type { IHeaders } from "kafkajs";

/** An outbox row still to publish (columns of outbox_event). */
export interface OutboxRow {
  id: number;
  eventId: string;
  /** The Kafka topic the row goes to (payment.completed, payment.refunded). */
  topic: string;
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

const ROW_COLUMNS = `id, event_id as "eventId", topic, message_key as "messageKey", payload, created_at as "createdAt"`;

/** Publishes rows to Kafka (each to its own `topic`); resolves only when Kafka acknowledged all of them. */
export type PublishRows = (rows: OutboxRow[]) => Promise<void>;

/**
 * Marks rows published. `published_at is null` keeps the first publish time when the event path
 * and the relay both sent a row (a duplicate on the topic, deduplicated downstream by eventId).
 */
export async function markPublished(em: EntityManager, eventIds: string[]): Promise<void> {
  if (eventIds.length === 0) return;
  await em.execute(
    "update outbox_event set published_at = now(), claimed_until = null, attempts = attempts + 1 where event_id in (?) and published_at is null",
    [eventIds],
  );
}

/** Counts a failed publish attempt and gives the rows back to the next relay round. */
export async function countFailedAttempt(em: EntityManager, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await em.execute("update outbox_event set attempts = attempts + 1, claimed_until = null where id in (?) and published_at is null", [ids]);
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
  /** How long a claim keeps other relays off the rows: longer than a Kafka send may take. */
  leaseMs: number;
}

/**
 * Slow path in three short steps, none of which holds a transaction or a row lock while Kafka
 * answers (SPEC §9): claim up to `limit` old unpublished rows with a lease (one autocommit
 * statement; SKIP LOCKED keeps concurrent relays on disjoint rows), publish them, mark them. A
 * relay that dies after claiming only delays its rows until the lease ends; a relay that dies after
 * Kafka's ack but before marking sends them again (a duplicate, deduplicated by eventId).
 * Returns the rows published.
 */
export async function relayBatch(em: EntityManager, options: RelayOptions, publish: PublishRows): Promise<OutboxRow[]> {
  // Hand-written: a claim must be one atomic statement (select-for-update + update + returning).
  const claimed = await em.execute<OutboxRow[]>(
    `update outbox_event set claimed_until = now() + make_interval(secs => ?)
      where id in (
        select id from outbox_event
         where published_at is null and created_at < now() - make_interval(secs => ?)
           and (claimed_until is null or claimed_until < now())
         order by id limit ? for update skip locked)
      returning ${ROW_COLUMNS}`,
    [options.leaseMs / 1000, options.olderThanMs / 1000, options.limit],
  );
  if (claimed.length === 0) return [];
  claimed.sort((a, b) => a.id - b.id);
  try {
    await publish(claimed);
  } catch (err) {
    await countFailedAttempt(em, claimed.map((row) => row.id)).catch(() => undefined);
    throw err;
  }
  await markPublished(em, claimed.map((row) => row.eventId));
  return claimed;
}

/** Advisory lock of the outbox purge: one node at a time deletes (arbitrary constant of this system). */
const PURGE_LOCK_ID = 724_301_120;

/**
 * Deletes rows published more than `retentionHours` ago, in short batches, returning how many.
 * Each batch is a transaction that first takes a transaction-scoped advisory lock: when another
 * node is purging, this one stops instead of contending for the same rows.
 */
export async function purgePublished(em: EntityManager, retentionHours: number, batch = 5000): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await em.transactional(async (tx) => {
      const [lock] = await tx.execute<Array<{ locked: boolean }>>("select pg_try_advisory_xact_lock(?) as locked", [PURGE_LOCK_ID]);
      if (!lock.locked) return -1;
      // Hand-written: a bounded delete (PostgreSQL has no DELETE … LIMIT) keeps each transaction short.
      const rows = await tx.execute<Array<{ id: number }>>(
        `delete from outbox_event where id in (
           select id from outbox_event
            where published_at is not null and published_at < now() - make_interval(hours => ?)
            limit ?) returning id`,
        [retentionHours, batch],
      );
      return rows.length;
    });
    if (deleted < 0) return total;
    total += deleted;
    if (deleted < batch) return total;
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
