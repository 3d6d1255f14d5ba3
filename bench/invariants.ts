/**
 * SPEC §2 invariants, checked after each scenario against PostgreSQL, Redis and the data-platform
 * stand-in (the whole run's data, not only the last scenario's):
 *   1 no seat in two live reservations, seat status agrees with its reservation (never sold twice)
 *   2 every wallet ≥ 0 and equal to the sum of its ledger; payments match confirmed reservations
 *   3 every payment has one outbox event and is applied by the stand-in exactly once
 *   5 queue: nobody is waiting and active at once, every queued user has a token nonce
 *   7 ranking: seats counted per concert = seats sold per concert
 */
import type { MikroORM } from "@mikro-orm/postgresql";
import type Redis from "ioredis";
import { rankingKeys } from "../modules/ranking/concert-ranking";
import { standinRecords } from "./delivery";
import { sleep } from "./processes";
import type { InvariantOutcome } from "./report";

export interface InvariantSources {
  orm: MikroORM;
  redis: Redis;
  redisPrefix: string;
  standinUrl: string;
}

type Row = Record<string, any>;

async function rows(sources: InvariantSources, sql: string): Promise<Row[]> {
  return sources.orm.em.fork().execute<Row[]>(sql);
}

async function noRows(sources: InvariantSources, name: string, sql: string, describe: (r: Row) => string): Promise<InvariantOutcome> {
  const found = await rows(sources, sql);
  return { name, pass: found.length === 0, detail: found.length ? `${found.length} violations, e.g. ${found.slice(0, 3).map(describe).join("; ")}` : "" };
}

const LIVE = "('HELD', 'CONFIRMED')";

async function databaseChecks(s: InvariantSources): Promise<InvariantOutcome[]> {
  return Promise.all([
    noRows(
      s,
      "1 no seat in two live reservations",
      `select rs.seat_id, count(*)::int as n from reservation_seat rs join reservation r on r.id = rs.reservation_id
        where r.status in ${LIVE} group by rs.seat_id having count(*) > 1`,
      (r) => `seat ${r.seat_id} ×${r.n}`,
    ),
    noRows(
      s,
      "1 seat status = status of its live reservation (SOLD ⇔ paid)",
      `select s.id, s.status, r.status as reservation from seat s
         left join reservation_seat rs on rs.seat_id = s.id and rs.live
         left join reservation r on r.id = rs.reservation_id and r.status in ${LIVE}
        where s.status <> case r.status when 'CONFIRMED' then 'SOLD' when 'HELD' then 'HELD' else 'AVAILABLE' end`,
      (r) => `seat ${r.id} ${r.status} vs reservation ${r.reservation ?? "none"}`,
    ),
    noRows(
      s,
      "2 wallet balance ≥ 0 and = ledger sum",
      `select w.user_id, w.balance, coalesce(l.total, 0) as ledger from wallet w
         left join (select user_id, sum(case type when 'USE' then -amount else amount end) as total
                      from ledger_entry group by user_id) l on l.user_id = w.user_id
        where w.balance < 0 or w.balance <> coalesce(l.total, 0)`,
      (r) => `${r.user_id} balance ${r.balance} ledger ${r.ledger}`,
    ),
    noRows(
      s,
      "2 one payment per CONFIRMED reservation, same amount, one USE ledger row",
      `select r.id, r.status, count(distinct p.id)::int as payments, count(distinct l.id)::int as uses
         from reservation r left join payment p on p.reservation_id = r.id and p.amount = r.amount
         left join ledger_entry l on l.payment_id = p.id and l.type = 'USE' and l.amount = p.amount
        group by r.id, r.status
       having (r.status = 'CONFIRMED') <> (count(distinct p.id) = 1) or count(distinct l.id) <> count(distinct p.id)`,
      (r) => `reservation ${r.id} ${r.status}: ${r.payments} payments, ${r.uses} USE rows`,
    ),
    noRows(
      s,
      "3 one outbox event per payment",
      `select p.id, count(o.id)::int as events from payment p
         left join outbox_event o on (o.payload->>'paymentId')::int = p.id
        group by p.id having count(o.id) <> 1`,
      (r) => `payment ${r.id}: ${r.events} events`,
    ),
  ]);
}

/** Every payment applied by the stand-in exactly once; waits up to timeoutMs for stragglers. */
async function deliveryCheck(s: InvariantSources, timeoutMs: number): Promise<InvariantOutcome> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await rows(s, "select event_id::text as id from outbox_event");
    const expected = new Set(events.map((e) => String(e.id)));
    const applied = await standinRecords(s.standinUrl);
    const counts = new Map<string, number>();
    for (const record of applied) counts.set(record.eventId, (counts.get(record.eventId) ?? 0) + 1);
    const missing = [...expected].filter((id) => !counts.has(id)).length;
    const twice = [...counts.values()].filter((n) => n > 1).length;
    const unknown = [...counts.keys()].filter((id) => !expected.has(id)).length;
    const pass = missing === 0 && twice === 0 && unknown === 0;
    if (pass || Date.now() > deadline) {
      return {
        name: "3 every payment applied by the data platform exactly once",
        pass,
        detail: `${expected.size} payments, ${applied.length} applied records, missing ${missing}, applied twice ${twice}, unknown ${unknown}`,
      };
    }
    await sleep(500);
  }
}

/** Ranking totals = seats sold per concert; waits up to timeoutMs for the events to land. */
async function rankingCheck(s: InvariantSources, timeoutMs: number): Promise<InvariantOutcome> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sold = await rows(s, `select sc.concert_id, count(*)::int as sold from seat se join schedule sc on sc.id = se.schedule_id where se.status = 'SOLD' group by sc.concert_id`);
    const flat = await s.redis.zrange(rankingKeys(s.redisPrefix).concerts, 0, -1, "WITHSCORES");
    const ranked = new Map<number, number>();
    for (let i = 0; i < flat.length; i += 2) ranked.set(Number(flat[i]), Number(flat[i + 1]));
    const expected = new Map(sold.map((r) => [Number(r.concert_id), Number(r.sold)]));
    const wrong = [...new Set([...expected.keys(), ...ranked.keys()])].filter((c) => (expected.get(c) ?? 0) !== (ranked.get(c) ?? 0));
    if (wrong.length === 0 || Date.now() > deadline) {
      const total = [...expected.values()].reduce((a, b) => a + b, 0);
      return {
        name: "7 ranking seats per concert = seats sold",
        pass: wrong.length === 0,
        detail: wrong.length
          ? `${wrong.length} concerts differ, e.g. ${wrong.slice(0, 3).map((c) => `concert ${c}: sold ${expected.get(c) ?? 0}, ranked ${ranked.get(c) ?? 0}`).join("; ")}`
          : `${expected.size} concerts, ${total} seats sold`,
      };
    }
    await sleep(250);
  }
}

/** Per concert queue: waiting ∩ active = ∅ and every queued user has a current nonce. */
async function queueCheck(s: InvariantSources): Promise<InvariantOutcome> {
  const problems: string[] = [];
  let concerts = 0;
  let cursor = "0";
  do {
    const [next, keys] = await s.redis.scan(cursor, "MATCH", `${s.redisPrefix}queue:*:tokens`, "COUNT", 1000);
    cursor = next;
    for (const tokensKey of keys) {
      concerts++;
      const base = tokensKey.slice(0, -"tokens".length);
      const waitingKey = `${base}waiting`;
      const [both, queued, tokens] = await Promise.all([
        s.redis.zintercard(2, waitingKey, `${base}active`),
        Promise.all([s.redis.zcard(waitingKey), s.redis.zcard(`${base}active`)]),
        s.redis.hlen(tokensKey),
      ]);
      if (both > 0) problems.push(`${base}: ${both} users waiting and active`);
      if (tokens < queued[0] + queued[1]) problems.push(`${base}: ${queued[0] + queued[1]} queued, ${tokens} nonces`);
    }
  } while (cursor !== "0");
  return { name: "5 queue: nobody waiting and active at once, every entry has its token", pass: problems.length === 0, detail: problems.slice(0, 3).join("; ") || `${concerts} queues` };
}

export async function checkInvariants(s: InvariantSources, settleMs = 60_000): Promise<InvariantOutcome[]> {
  const database = await databaseChecks(s);
  const [delivery, ranking, queue] = await Promise.all([deliveryCheck(s, settleMs), rankingCheck(s, settleMs), queueCheck(s)]);
  return [...database, delivery, ranking, queue];
}
