/**
 * Breaks each invariant once, on purpose, in the chaos suite's data (after its cluster stopped), so
 * the test can show that every check of chaos/invariants.ts catches what it claims to.
 */
import Redis from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { Client } from "pg";
import type { InvariantSources } from "../../chaos/invariants";
import { queueKeys } from "../../modules/queue/queue-keys";
import { rankingKeys } from "../../modules/ranking/concert-ranking";

async function sql(url: string, statements: (db: Client) => Promise<void>): Promise<void> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    await statements(db);
  } finally {
    await db.end();
  }
}

export async function corruptEverything(s: InvariantSources): Promise<void> {
  const paid: Array<{ id: number; reservationId: number; userId: string; concertId: number; scheduleId: number; seatId: number; eventId: string; payload: unknown }> = [];
  await sql(s.databaseUrl, async (db) => {
    const { rows } = await db.query(
      `select p.id, p.reservation_id as "reservationId", p.user_id as "userId", r.concert_id as "concertId", r.schedule_id as "scheduleId",
              (select min(seat_id) from reservation_seat where reservation_id = r.id) as "seatId", o.event_id::text as "eventId", o.payload
         from payment p join reservation r on r.id = p.reservation_id
         join outbox_event o on o.topic = $1 and (o.payload->>'paymentId')::int = p.id
        order by p.id limit 8`,
      [s.topic],
    );
    paid.push(...rows);
    if (paid.length < 8) throw new Error(`need 8 payments to corrupt, found ${paid.length}`);
    // 1: a second live (HELD) reservation on a sold seat (not flagged live, or the unique index refuses it).
    const { rows: [held] } = await db.query(
      `insert into reservation (user_id, concert_id, schedule_id, status, amount, expires_at) values ('corrupt', $1, $2, 'HELD', 0, now() + interval '1 hour') returning id`,
      [paid[0].concertId, paid[0].scheduleId],
    );
    await db.query(`insert into reservation_seat (reservation_id, seat_id, number, price, live) select $1, seat_id, number, price, false from reservation_seat where reservation_id = $2 and seat_id = $3`, [held.id, paid[0].reservationId, paid[0].seatId]);
    // 1: a paid seat shown AVAILABLE (could be sold again).
    await db.query("update seat set status = 'AVAILABLE' where id = $1", [paid[1].seatId]);
    // 2: money out of thin air.
    await db.query("update wallet set balance = balance + 1 where user_id = $1", [paid[2].userId]);
    // Outbox: a row back to unpublished; 3: an event the topic never carried.
    await db.query("update outbox_event set published_at = null where event_id = $1", [paid[3].eventId]);
    await db.query("update outbox_event set event_id = gen_random_uuid() where event_id = $1", [paid[4].eventId]);
  });
  // 3: a payment the data platform never applied.
  await sql(s.standinDatabaseUrl, (db) => db.query("delete from data_platform_record where event_id = $1", [paid[5].eventId]).then(() => undefined));
  const redis = new Redis(s.redisUrl);
  try {
    // 7: a seat counted that was never sold; queue: a paid user still ACTIVE.
    await redis.zincrby(rankingKeys(s.redisPrefix).concerts, 1, String(paid[6].concertId));
    await redis.zadd(queueKeys(s.redisPrefix, paid[7].concertId).active, Date.now() + 600_000, paid[7].userId);
  } finally {
    redis.disconnect();
  }
  // DLQ: a good event dead-lettered.
  const producer = new Kafka({ clientId: "chaos-corrupt", brokers: s.kafkaBrokers.split(","), logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  try {
    await producer.send({ topic: s.dlqTopic, messages: [{ key: String(paid[7].reservationId), value: JSON.stringify(paid[7].payload), headers: { "event-id": paid[7].eventId } }] });
  } finally {
    await producer.disconnect();
  }
}
