/**
 * SPEC's invariants after a fault, against PostgreSQL, Redis, the Kafka topic and the stand-in (all
 * data of the run, not only the last fault's). Eventually-consistent checks poll until a shared
 * deadline and record how long they took to converge.
 */
import Redis from "ioredis";
import { Client } from "pg";
import { queueKeys } from "../modules/queue/queue-keys";
import { rankingKeys } from "../modules/ranking/concert-ranking";
import { readTopicEventIds } from "./kafka-read";
import { sleep } from "./procs";
import type { StandIn } from "./standin";
import type { InvariantResult } from "./types";

export interface InvariantSources {
  databaseUrl: string;
  /** The stand-in's own database (what it applied). */
  standinDatabaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  kafkaBrokers: string;
  topic: string;
  dlqTopic: string;
  standin: StandIn;
}

type Row = Record<string, any>;

async function query(url: string, sql: string): Promise<Row[]> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

const LIVE = "('HELD', 'CONFIRMED')";

/** Checks that hold at once (PostgreSQL is the source of truth): invariants 1 and 2. */
const IMMEDIATE: Array<{ name: string; sql: string; show: (r: Row) => string }> = [
  {
    name: "1 no seat in two live reservations",
    sql: `select rs.seat_id, count(*)::int as n from reservation_seat rs join reservation r on r.id = rs.reservation_id
           where r.status in ${LIVE} group by rs.seat_id having count(*) > 1`,
    show: (r) => `seat ${r.seat_id} in ${r.n}`,
  },
  {
    name: "1 no seat sold twice (SOLD ⇔ one CONFIRMED reservation)",
    sql: `select s.id, s.status, count(r.id)::int as confirmed from seat s
            left join reservation_seat rs on rs.seat_id = s.id
            left join reservation r on r.id = rs.reservation_id and r.status = 'CONFIRMED'
           group by s.id, s.status having count(r.id) > 1 or (s.status = 'SOLD') <> (count(r.id) = 1)`,
    show: (r) => `seat ${r.id} ${r.status} with ${r.confirmed} confirmed`,
  },
  {
    name: "2 wallet balance ≥ 0 and = sum of its ledger",
    sql: `select w.user_id, w.balance, coalesce(l.total, 0) as ledger from wallet w
            left join (select user_id, sum(case when type = 'USE' then -amount else amount end) as total
                         from ledger_entry group by user_id) l on l.user_id = w.user_id
           where w.balance < 0 or w.balance <> coalesce(l.total, 0)`,
    show: (r) => `${r.user_id} balance ${r.balance} ledger ${r.ledger}`,
  },
];

function verdict(name: string, problems: string[], okDetail: string, convergedMs?: number): InvariantResult {
  const ok = problems.length === 0;
  return { name, ok, detail: ok ? okDetail : `${problems.length} violations, e.g. ${problems.slice(0, 3).join("; ")}`, convergedMs: ok ? convergedMs : undefined };
}

/** Polls `probe` (problems found) until none or the deadline; the last problems are the verdict. */
async function converge(name: string, deadline: number, okDetail: () => string, probe: () => Promise<string[]>): Promise<InvariantResult> {
  const started = Date.now();
  for (;;) {
    const problems = await probe().catch((err: Error) => [`check failed: ${err.message}`]);
    if (problems.length === 0 || Date.now() > deadline) return verdict(name, problems, okDetail(), Date.now() - started);
    await sleep(500);
  }
}

async function payments(s: InvariantSources): Promise<Array<{ id: number; eventId: string | null; concertId: number; userId: string }>> {
  const rows = await query(
    s.databaseUrl,
    `select p.id, o.event_id::text as "eventId", r.concert_id as "concertId", p.user_id as "userId" from payment p
       join reservation r on r.id = p.reservation_id
       left join outbox_event o on o.topic = '${s.topic}' and (o.payload->>'paymentId')::int = p.id`,
  );
  return rows as Array<{ id: number; eventId: string | null; concertId: number; userId: string }>;
}

export async function checkInvariants(s: InvariantSources, settleMs: number): Promise<InvariantResult[]> {
  const deadline = Date.now() + settleMs;
  const results: InvariantResult[] = [];
  for (const check of IMMEDIATE) {
    const found = await query(s.databaseUrl, check.sql).catch((err: Error) => [{ error: err.message }]);
    results.push(verdict(check.name, found.map((r) => (r.error ? `check failed: ${r.error}` : check.show(r))), "ok"));
  }
  const redis = new Redis(s.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
  redis.on("error", () => undefined);
  let paid = await payments(s);
  try {
    const waited = await Promise.all([
      converge("outbox drained (no unpublished outbox_event)", deadline, () => "0 unpublished", async () => {
        const [row] = await query(s.databaseUrl, "select count(*)::int as n from outbox_event where published_at is null");
        return row.n > 0 ? [`${row.n} unpublished`] : [];
      }),
      converge("3 every payment applied once by the data platform", deadline, () => `${paid.length} payments applied once`, async () => {
        paid = await payments(s);
        const perPayment = new Map<number, number>();
        for (const record of await s.standin.records()) {
          const id = Number(record.payload?.paymentId);
          perPayment.set(id, (perPayment.get(id) ?? 0) + 1);
        }
        const problems = paid.filter((p) => p.eventId === null).map((p) => `payment ${p.id} has no outbox event`);
        for (const p of paid) if ((perPayment.get(p.id) ?? 0) !== 1) problems.push(`payment ${p.id} applied ${perPayment.get(p.id) ?? 0}×`);
        return problems;
      }),
      converge("7 ranking = seats sold per concert", deadline, () => "ranking matches", async () => {
        const sold = await query(s.databaseUrl, `select c.id, count(se.id)::int as sold from concert c
            left join schedule sc on sc.concert_id = c.id left join seat se on se.schedule_id = sc.id and se.status = 'SOLD' group by c.id`);
        const key = rankingKeys(s.redisPrefix).concerts;
        const scores = await Promise.all(sold.map((r) => redis.zscore(key, String(r.id))));
        return sold.flatMap((r, i) => (Number(scores[i] ?? 0) === r.sold ? [] : [`concert ${r.id}: sold ${r.sold}, ranked ${scores[i] ?? "none"}`]));
      }),
      converge("no paid user still ACTIVE in the queue", deadline, () => "none", async () => {
        const active = await Promise.all(paid.map((p) => redis.zscore(queueKeys(s.redisPrefix, p.concertId).active, p.userId)));
        return paid.flatMap((p, i) => (active[i] === null ? [] : [`${p.userId} ACTIVE in concert ${p.concertId}`]));
      }),
    ]);
    results.push(...waited);
  } finally {
    redis.disconnect();
  }
  results.push(...(await topicChecks(s, paid, deadline)));
  return results;
}

/** Every payment's event on the topic (at least once), and none of them in the DLQ. */
async function topicChecks(s: InvariantSources, paid: Array<{ id: number; eventId: string | null }>, deadline: number): Promise<InvariantResult[]> {
  const expected = paid.map((p) => p.eventId).filter((id): id is string => id !== null);
  const onTopic = await converge("3 every payment on the Kafka topic", deadline, () => `${expected.length} events`, async () => {
    const seen = new Set(await readTopicEventIds(s.kafkaBrokers, s.topic));
    const missing = expected.filter((id) => !seen.has(id));
    return missing.map((id) => `event ${id} missing`);
  });
  let dlq: InvariantResult;
  try {
    const parked = new Set(await readTopicEventIds(s.kafkaBrokers, s.dlqTopic));
    dlq = verdict("nothing good in the DLQ", expected.filter((id) => parked.has(id)).map((id) => `event ${id} dead-lettered`), `${parked.size} in DLQ, none of ours`);
  } catch (err) {
    dlq = verdict("nothing good in the DLQ", [`check failed: ${(err as Error).message}`], "");
  }
  return [onTopic, dlq];
}
