import { randomUUID } from "node:crypto";
import type { EntityManager } from "@mikro-orm/postgresql";
import { isoTimestamp } from "../../lib/db/timestamps";
import { domainError } from "../../lib/errors";
import type { ReservationStatus } from "../reservations/models/reservation";
import { applyEntry, isUniqueViolation, lockWallet } from "../points/wallet-store";
import {
  insufficientPoints,
  keyReuseRefusal,
  paymentCompletedEvent,
  reservationRefusal,
  type PaymentCompletedEvent,
  type PaymentView,
} from "./payment-rules";
import { transactional } from "../../lib/db/transient-retry";

export interface PayRequest {
  userId: string;
  reservationId: number;
  idempotencyKey: string;
  /** Kafka topic the outbox row is for. */
  topic: string;
}

/** `event` is null for a replay: the payment was made (and announced) by an earlier request. */
export interface PayResult {
  payment: PaymentView;
  event: PaymentCompletedEvent | null;
}

interface PaymentRow {
  id: number;
  reservation_id: number;
  amount: number;
  paid_at: string;
}

interface ReservationRow {
  id: number;
  user_id: string;
  concert_id: number;
  schedule_id: number;
  status: ReservationStatus;
  amount: number;
}

function notFound(reservationId: number) {
  return domainError("RESERVATION_NOT_FOUND", `Reservation ${reservationId} not found`, { reservationId });
}

function toView(row: PaymentRow): PaymentView {
  return { id: row.id, reservationId: row.reservation_id, amount: row.amount, status: "COMPLETED", paidAt: isoTimestamp(row.paid_at) };
}

async function findPaymentByKey(em: EntityManager, userId: string, idempotencyKey: string): Promise<PaymentRow | undefined> {
  const [row] = await em.execute<PaymentRow[]>(
    "select id, reservation_id, amount, paid_at from payment where user_id = ? and idempotency_key = ?",
    [userId, idempotencyKey],
  );
  return row;
}

/** The caller's own payment; someone else's is as unknown as a missing one (404). */
export async function findOwnPayment(em: EntityManager, userId: string, paymentId: number): Promise<PaymentView> {
  const [row] = await em.execute<PaymentRow[]>(
    "select id, reservation_id, amount, paid_at from payment where id = ? and user_id = ?",
    [paymentId, userId],
  );
  if (!row) throw domainError("PAYMENT_NOT_FOUND", `Payment ${paymentId} not found`, { paymentId });
  return toView(row);
}

function replay(first: PaymentRow, request: PayRequest): PayResult {
  const reused = keyReuseRefusal({ reservationId: first.reservation_id }, request.reservationId, request.idempotencyKey);
  if (reused) throw reused;
  return { payment: toView(first), event: null };
}

/**
 * The concert whose ACTIVE queue token paying needs (the queue guard's resolver), or null for a
 * replay of a payment this key already made: that payment expired the token, and a client retrying
 * after a lost response must still get its answer. 404 for a reservation that is not the caller's.
 */
export async function paymentGuardConcert(em: EntityManager, userId: string, reservationId: number, idempotencyKey: string): Promise<number | null> {
  const [row] = await em.execute<Array<{ concert_id: number; replay: boolean }>>(
    `select r.concert_id,
            exists (select 1 from payment p where p.user_id = r.user_id and p.idempotency_key = ? and p.reservation_id = r.id) as replay
       from reservation r where r.id = ? and r.user_id = ?`,
    [idempotencyKey, reservationId, userId],
  );
  if (!row) throw notFound(reservationId);
  return row.replay ? null : row.concert_id;
}

/**
 * The reservation's live seats locked (ascending ids) with the database clock: one statement. It
 * reads clock_timestamp(), not now() (the transaction's start, before any wait for the reservation
 * lock). A reservation without live seats (cancelled, expired) only needs the clock, to be refused.
 */
async function lockLiveSeats(tx: EntityManager, reservationId: number): Promise<{ now: string; live: boolean; seatIds: number[] }> {
  const rows = await tx.execute<Array<{ id: number; now: string; live: boolean }>>(
    `select s.id, t.now, r.expires_at > t.now as live
       from reservation r cross join (select clock_timestamp() as now) t
       join reservation_seat rs on rs.reservation_id = r.id and rs.live
       join seat s on s.id = rs.seat_id
      where r.id = ? order by s.id for update of s`,
    [reservationId],
  );
  if (rows.length > 0) return { now: rows[0].now, live: rows[0].live, seatIds: rows.map((row) => row.id) };
  const [clock] = await tx.execute<Array<{ now: string; live: boolean }>>(
    "select t.now, r.expires_at > t.now as live from reservation r cross join (select clock_timestamp() as now) t where r.id = ?",
    [reservationId],
  );
  return { now: clock.now, live: clock.live, seatIds: [] };
}

/**
 * The payment row, the reservation CONFIRMED, its seats SOLD and the outbox row (whose payload gets
 * the new payment id) in one statement: data-modifying CTEs, one round trip where there were four.
 */
function recordPaymentSql(withSeats: boolean): string {
  return `with p as (
      insert into payment (reservation_id, user_id, amount, status, idempotency_key, paid_at)
      values (?, ?, ?, 'COMPLETED', ?, ?::timestamptz) returning id, reservation_id, amount, paid_at),
    confirmed as (update reservation set status = 'CONFIRMED', updated_at = now() where id = ?),
    ${withSeats ? "sold as (update seat set status = 'SOLD' where id in (?))," : ""}
    announced as (insert into outbox_event (event_id, topic, message_key, payload)
      select ?, ?, ?, jsonb_set(?::jsonb, '{paymentId}', to_jsonb(p.id)) from p)
    select id, reservation_id, amount, paid_at from p`;
}

/**
 * One transaction: lock the reservation, then its seats (ascending ids), then the wallet (the
 * lock order every writer follows); refuse unless HELD, the caller's and not past expiresAt by the
 * database clock; deduct (ledger USE), confirm, sell the seats, record the payment and the outbox
 * row that carries the payment.completed message to Kafka.
 */
async function payInTransaction(tx: EntityManager, request: PayRequest): Promise<PayResult> {
  const { userId, reservationId, idempotencyKey } = request;
  const [reservation] = await tx.execute<ReservationRow[]>(
    "select id, user_id, concert_id, schedule_id, status, amount from reservation where id = ? for update",
    [reservationId],
  );
  if (!reservation || reservation.user_id !== userId) throw notFound(reservationId);

  // Checked under the reservation lock: a concurrent request with this key has committed or failed by now.
  const first = await findPaymentByKey(tx, userId, idempotencyKey);
  if (first) return replay(first, request);

  const { now, live, seatIds } = await lockLiveSeats(tx, reservationId);
  const refusal = reservationRefusal(reservationId, reservation.status, live);
  if (refusal) throw refusal;

  const amount = reservation.amount;
  const balance = await lockWallet(tx, userId);
  const shortfall = insufficientPoints(balance, amount);
  if (shortfall) throw shortfall;

  const draft = paymentCompletedEvent({
    eventId: randomUUID(),
    paymentId: 0, // set from the payment row's id, in SQL and below
    reservation: { id: reservation.id, userId, concertId: reservation.concert_id, scheduleId: reservation.schedule_id },
    seatIds,
    amount,
    paidAt: isoTimestamp(now),
  });
  const [payment] = await tx.execute<PaymentRow[]>(recordPaymentSql(seatIds.length > 0), [
    reservationId,
    userId,
    amount,
    idempotencyKey,
    now,
    reservationId,
    ...(seatIds.length > 0 ? [seatIds] : []),
    draft.eventId,
    request.topic,
    String(reservationId),
    JSON.stringify(draft),
  ]);
  const payload = { ...draft, paymentId: payment.id };
  // A free reservation moves no points (ledger amounts are positive by CHECK).
  if (amount > 0) await applyEntry(tx, { userId, type: "USE", amount, balance: balance ?? 0, paymentId: payment.id });
  return { payment: toView(payment), event: payload };
}

/**
 * Pays a reservation once per Idempotency-Key. Two requests with the same key racing each other
 * can both get past the key check only for different reservations (the same reservation is
 * locked); the unique (user_id, idempotency_key) then refuses the second, which answers from the
 * first payment instead.
 */
export async function payReservation(em: EntityManager, request: PayRequest): Promise<PayResult> {
  try {
    // Also after a lost COMMIT: the repeat finds the payment by its key and replays it.
    return await transactional(em, (tx) => payInTransaction(tx, request), { repeatAfterLostCommit: true });
  } catch (err) {
    if (!isUniqueViolation(err, "payment_idempotency_uq")) throw err;
    const first = await findPaymentByKey(em, request.userId, request.idempotencyKey);
    if (!first) throw err;
    return replay(first, request);
  }
}
