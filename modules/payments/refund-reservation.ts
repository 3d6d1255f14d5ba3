/**
 * An operator's refund of a paid reservation (SPEC §7), in one transaction: points back to the
 * wallet (ledger REFUND), payment and reservation REFUNDED, the seats AVAILABLE and no longer in a
 * live reservation, and the payment.refunded outbox row that carries the message to Kafka.
 *
 * Locks follow the order every writer uses (reservation → seats by ascending id → wallet), so a
 * refund cannot deadlock with a payment, a hold or an expiry. The reservation lock makes a refund
 * single: a concurrent repeat waits for it, then reads REFUNDED and answers the same view. The
 * partial unique index ledger_entry_refund_payment_uq (one REFUND per payment) is the last word.
 */
import { randomUUID } from "node:crypto";
import type { EntityManager } from "@mikro-orm/postgresql";
import { isoTimestamp, type Timestamp } from "../../lib/db/timestamps";
import { transactional } from "../../lib/db/transient-retry";
import { domainError } from "../../lib/errors";
import { applyEntry, isUniqueViolation, lockWallet } from "../points/wallet-store";
import {
  RESERVATION_COLUMNS,
  reservationNotFound,
  reservationSeats,
  toView,
  type ReservationRow,
  type ReservationView,
} from "../reservations/reservation-views";
import { paymentRefundedEvent, refundDecision, type PaymentRefundedEvent } from "./payment-rules";

export interface RefundRequest {
  reservationId: number;
  /** Kafka topic the outbox row is for (payment.refunded). */
  topic: string;
}

export interface RefundView extends ReservationView {
  refundedAt: string;
}

/** `event` is null for a repeat: the reservation was refunded (and announced) before. */
export interface RefundResult {
  reservation: RefundView;
  event: PaymentRefundedEvent | null;
}

interface PaymentRow {
  id: number;
  amount: number;
  status: string;
  refunded_at: Timestamp | null;
}

const REFUND_PER_PAYMENT_INDEX = "ledger_entry_refund_payment_uq";

async function paymentOf(tx: EntityManager, reservationId: number): Promise<PaymentRow | undefined> {
  const [row] = await tx.execute<PaymentRow[]>(
    "select id, amount, status, refunded_at from payment where reservation_id = ?",
    [reservationId],
  );
  return row;
}

async function viewOf(tx: EntityManager, row: ReservationRow, refundedAt: Timestamp): Promise<RefundView> {
  return { ...toView(row, await reservationSeats(tx, row.id)), refundedAt: isoTimestamp(refundedAt) };
}

/** The view of an already refunded reservation (a repeat answers it and changes nothing). */
async function replay(tx: EntityManager, row: ReservationRow): Promise<RefundResult> {
  const payment = await paymentOf(tx, row.id);
  return { reservation: await viewOf(tx, row, payment?.refunded_at ?? row.db_now), event: null };
}

async function refundInTransaction(tx: EntityManager, request: RefundRequest): Promise<RefundResult> {
  const { reservationId } = request;
  const [reservation] = await tx.execute<ReservationRow[]>(
    `select ${RESERVATION_COLUMNS} from reservation where id = ? for update`,
    [reservationId],
  );
  if (!reservation) throw reservationNotFound(reservationId);
  // Read under the lock: a refund that got here first has committed by now.
  const decision = refundDecision(reservationId, reservation.status);
  if (decision === "REPLAY") return replay(tx, reservation);
  if (decision !== "REFUND") throw decision;

  const payment = await paymentOf(tx, reservationId);
  if (!payment || payment.status !== "COMPLETED") {
    // A CONFIRMED reservation always has its payment; without one there is nothing to give back.
    throw domainError("RESERVATION_NOT_CONFIRMED", `Reservation ${reservationId} has no completed payment to refund`, {
      reservationId,
      status: reservation.status,
    });
  }

  const seats = await tx.execute<Array<{ id: number }>>(
    `select s.id from reservation_seat rs join seat s on s.id = rs.seat_id
      where rs.reservation_id = ? and rs.live order by s.id for update of s`,
    [reservationId],
  );
  const seatIds = seats.map((seat) => seat.id);

  const userId = reservation.user_id;
  const amount = payment.amount;
  // A free reservation moved no points, so it gives none back (ledger amounts are positive by CHECK).
  if (amount > 0) {
    const balance = await lockWallet(tx, userId);
    if (balance === null) throw new Error(`Reservation ${reservationId} was paid from a wallet that does not exist`);
    await applyEntry(tx, { userId, type: "REFUND", amount, balance, paymentId: payment.id });
  }
  const [refunded] = await tx.execute<Array<{ refunded_at: Timestamp }>>(
    "update payment set status = 'REFUNDED', refunded_at = clock_timestamp() where id = ? returning refunded_at",
    [payment.id],
  );
  await tx.execute("update reservation set status = 'REFUNDED', updated_at = now() where id = ?", [reservationId]);
  if (seatIds.length > 0) {
    await tx.execute("update seat set status = 'AVAILABLE' where id in (?) and status = 'SOLD'", [seatIds]);
    await tx.execute("update reservation_seat set live = false where reservation_id = ? and live", [reservationId]);
  }

  const refundedAt = isoTimestamp(refunded.refunded_at);
  const event = paymentRefundedEvent({
    eventId: randomUUID(),
    paymentId: payment.id,
    reservation: { id: reservationId, userId, concertId: reservation.concert_id, scheduleId: reservation.schedule_id },
    seatIds,
    amount,
    refundedAt,
  });
  await tx.execute("insert into outbox_event (event_id, topic, message_key, payload) values (?, ?, ?, ?::jsonb)", [
    event.eventId,
    request.topic,
    String(reservationId),
    JSON.stringify(event),
  ]);
  return { reservation: await viewOf(tx, { ...reservation, status: "REFUNDED" }, refunded.refunded_at), event };
}

/** Refunds a CONFIRMED reservation once; 404 unknown, 409 RESERVATION_NOT_CONFIRMED otherwise. */
export async function refundReservation(em: EntityManager, request: RefundRequest): Promise<RefundResult> {
  try {
    // Single by row state: a repeat after a lost COMMIT finds the reservation REFUNDED and replays.
    return await transactional(em, (tx) => refundInTransaction(tx, request), { repeatAfterLostCommit: true });
  } catch (err) {
    // Only reachable if something refunded the payment without the reservation lock: answer its result.
    if (!isUniqueViolation(err, REFUND_PER_PAYMENT_INDEX)) throw err;
    return em.transactional(async (tx) => {
      const [row] = await tx.execute<ReservationRow[]>(`select ${RESERVATION_COLUMNS} from reservation where id = ?`, [
        request.reservationId,
      ]);
      if (row?.status !== "REFUNDED") throw err;
      return replay(tx, row);
    });
  }
}
