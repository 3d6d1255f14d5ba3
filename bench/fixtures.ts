/**
 * Data a scenario needs before it is measured: a fresh database, concerts and schedules written
 * directly (catalog writes), users with pre-minted access tokens, queue entries made ACTIVE and
 * wallets charged through the HTTP API. None of this is timed.
 */
import type { MikroORM } from "@mikro-orm/postgresql";
import { Client } from "pg";
import { signAccessToken } from "../lib/auth";
import { initOrm, migrate } from "../lib/db/orm";
import { createConcert, createSchedule } from "../modules/catalog/catalog-writes";
import { mapLimit, errorKey, type JsonClient } from "./http-client";
import { sleep } from "./processes";

export interface BenchUser {
  id: string;
  /** `Authorization` header value. */
  authorization: string;
  /** Queue token per concert id. */
  queueTokens: Map<number, string>;
}

/** Users u<offset>..; tokens signed like the identity provider would (lib/auth.ts). */
export function mintUsers(prefix: string, count: number, secret: string, offset = 0): BenchUser[] {
  return Array.from({ length: count }, (_, i) => {
    const id = `${prefix}${offset + i}`;
    return { id, authorization: `Bearer ${signAccessToken(id, secret, 6 * 3600)}`, queueTokens: new Map() };
  });
}

async function adminQuery(databaseUrl: string, sql: string): Promise<void> {
  const admin = new URL(databaseUrl);
  admin.pathname = "/postgres";
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function databaseName(databaseUrl: string): string {
  const name = new URL(databaseUrl).pathname.slice(1);
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`Unsupported database name ${name}`);
  return name;
}

/** A fresh database with the schema applied; returns an ORM on it for the bench's own queries. */
export async function freshDatabase(databaseUrl: string): Promise<MikroORM> {
  await adminQuery(databaseUrl, `drop database if exists "${databaseName(databaseUrl)}" with (force)`);
  const orm = await initOrm(databaseUrl, 4);
  await migrate(orm, databaseUrl);
  return orm;
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  await adminQuery(databaseUrl, `drop database if exists "${databaseName(databaseUrl)}" with (force)`);
}

export interface BenchSchedule {
  id: number;
  seatIds: number[];
}

export interface BenchConcert {
  concertId: number;
  schedules: BenchSchedule[];
}

export async function createBenchConcert(orm: MikroORM, title: string, scheduleCount: number, seats = 50): Promise<BenchConcert> {
  const em = orm.em.fork();
  const concertId = await createConcert(em, title, "Bench Hall");
  const schedules: BenchSchedule[] = [];
  for (let i = 0; i < scheduleCount; i++) {
    const id = await createSchedule(em, concertId, new Date(Date.now() + (30 + i) * 86_400_000), seats);
    const rows = await em.execute<Array<{ id: number }>>("select id from seat where schedule_id = ? order by number", [id]);
    schedules.push({ id, seatIds: rows.map((r) => r.id) });
  }
  return { concertId, schedules };
}

function expectOk(what: string, failures: string[]): void {
  if (failures.length) throw new Error(`${what}: ${failures.length} failed (${[...new Set(failures)].slice(0, 5).join(", ")})`);
}

/** Every user enters the concert's queue (POST /api/concerts/:id/queue); keeps their tokens. */
export async function enterQueue(client: JsonClient, users: readonly BenchUser[], concertId: number): Promise<void> {
  const failures: string[] = [];
  await mapLimit(users, 64, async (user) => {
    const res = await client.request("POST", `/api/concerts/${concertId}/queue`, { headers: { authorization: user.authorization } });
    if (res.status === 200 || res.status === 201) user.queueTokens.set(concertId, res.body.token);
    else failures.push(errorKey(res.status, res.body));
  });
  expectOk("queue entry", failures);
}

/** Polls GET /api/queue/me until every user is ACTIVE in the concert. */
export async function waitActive(client: JsonClient, users: readonly BenchUser[], concertId: number, timeoutMs = 60_000): Promise<void> {
  let pending = [...users];
  const deadline = Date.now() + timeoutMs;
  while (pending.length) {
    const states = await mapLimit(pending, 64, async (user) => {
      const headers = { authorization: user.authorization, "x-queue-token": user.queueTokens.get(concertId) ?? "" };
      const res = await client.request("GET", "/api/queue/me", { headers });
      return res.status === 200 ? (res.body.status as string) : errorKey(res.status, res.body);
    });
    const broken = states.filter((s) => s !== "ACTIVE" && s !== "WAITING");
    expectOk("queue status", broken);
    pending = pending.filter((_, i) => states[i] !== "ACTIVE");
    if (!pending.length) return;
    if (Date.now() > deadline) throw new Error(`${pending.length} users were never admitted to concert ${concertId}`);
    await sleep(100);
  }
}

/** Enter + wait until ACTIVE. */
export async function activeUsers(client: JsonClient, users: readonly BenchUser[], concertId: number): Promise<void> {
  await enterQueue(client, users, concertId);
  await waitActive(client, users, concertId);
}

/** Charges every user's wallet (POST /api/points/charge with an Idempotency-Key). */
export async function chargeWallets(client: JsonClient, users: readonly BenchUser[], amount: number, keyTag: string): Promise<void> {
  const failures: string[] = [];
  await mapLimit(users, 32, async (user) => {
    const headers = { authorization: user.authorization, "idempotency-key": `charge-${keyTag}-${user.id}`.slice(0, 128) };
    const res = await client.request("POST", "/api/points/charge", { headers, body: { amount } });
    if (res.status !== 200) failures.push(errorKey(res.status, res.body));
  });
  expectOk("wallet charge", failures);
}

/** Headers of an authenticated request that carries the user's queue token of a concert. */
export function queueHeaders(user: BenchUser, concertId: number): Record<string, string> {
  return { authorization: user.authorization, "x-queue-token": user.queueTokens.get(concertId) ?? "" };
}

/**
 * One payment end to end before anything is measured: the Kafka topic exists, the data-platform
 * consumer has joined its group and the stand-in applied the record, so the first paying scenario
 * does not measure Kafka's group join. `concert` needs a schedule with a free seat.
 */
export async function warmPaymentPipeline(client: JsonClient, user: BenchUser, concert: BenchConcert): Promise<{ paymentId: number; paidAt: string }> {
  await activeUsers(client, [user], concert.concertId);
  await chargeWallets(client, [user], 1_000_000, "warmup");
  const headers = { ...queueHeaders(user, concert.concertId) };
  const schedule = concert.schedules[0];
  const hold = await client.request("POST", "/api/reservations", { headers, body: { scheduleId: schedule.id, seatIds: [schedule.seatIds[0]] } });
  if (hold.status !== 201) throw new Error(`warm-up reservation: ${errorKey(hold.status, hold.body)}`);
  const pay = await client.request("POST", "/api/payments", { headers: { ...headers, "idempotency-key": `warmup-${hold.body.id}` }, body: { reservationId: hold.body.id } });
  if (pay.status !== 201) throw new Error(`warm-up payment: ${errorKey(pay.status, pay.body)}`);
  return { paymentId: pay.body.id, paidAt: pay.body.paidAt };
}
