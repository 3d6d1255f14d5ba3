import { domainError, type DomainError } from "../../lib/errors";
import type { ReservationStatus } from "../reservations/models/reservation";

/** Largest id a PostgreSQL `int` column holds; a bigger id is bad input, not a 500. */
export const MAX_INT4 = 2_147_483_647;

export interface PaymentView {
  id: number;
  reservationId: number;
  amount: number;
  status: "COMPLETED";
  paidAt: string;
}

/** The internal `payment.completed` event and the Kafka message value (SPEC §4); also the outbox payload. */
/** What payment.completed and payment.refunded both say about the payment (SPEC §4, §7). */
interface PaymentFacts {
  eventId: string;
  paymentId: number;
  reservationId: number;
  userId: string;
  concertId: number;
  scheduleId: number;
  seatIds: number[];
  amount: number;
}

export interface PaymentCompletedEvent extends PaymentFacts {
  paidAt: string;
}

interface PaymentFactsInput {
  eventId: string;
  paymentId: number;
  reservation: { id: number; userId: string; concertId: number; scheduleId: number };
  seatIds: number[];
  amount: number;
}

function paymentFacts(input: PaymentFactsInput): PaymentFacts {
  return {
    eventId: input.eventId,
    paymentId: input.paymentId,
    reservationId: input.reservation.id,
    userId: input.reservation.userId,
    concertId: input.reservation.concertId,
    scheduleId: input.reservation.scheduleId,
    seatIds: [...input.seatIds].sort((a, b) => a - b),
    amount: input.amount,
  };
}

/**
 * Why a reservation cannot be paid now, or null when it can. `live` is "expiresAt is still ahead"
 * by the database clock: a HELD reservation past its expiry is as expired as one the sweeper
 * already marked EXPIRED, so a late payment never succeeds.
 */
export function reservationRefusal(reservationId: number, status: ReservationStatus, live: boolean): DomainError | null {
  if (status === "HELD" && live) return null;
  if (status === "HELD" || status === "EXPIRED") {
    return domainError("RESERVATION_EXPIRED", `Reservation ${reservationId} expired before it was paid`, { reservationId });
  }
  return domainError("RESERVATION_NOT_HELD", `Reservation ${reservationId} is ${status}, not HELD`, { reservationId, status });
}

/** 402 when the wallet (a missing one holds 0) cannot pay `amount`. */
export function insufficientPoints(balance: number | null, amount: number): DomainError | null {
  const available = balance ?? 0;
  if (available >= amount) return null;
  return domainError("INSUFFICIENT_POINTS", `Balance ${available} is below the amount ${amount}`, { balance: available, amount });
}

/**
 * An Idempotency-Key names one payment request. Sent again for the same reservation it replays the
 * payment; sent for another reservation it is a client bug that must not pay anything.
 */
export function keyReuseRefusal(
  paid: { reservationId: number },
  requestedReservationId: number,
  idempotencyKey: string,
): DomainError | null {
  if (paid.reservationId === requestedReservationId) return null;
  return domainError("IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key already paid another reservation", {
    idempotencyKey,
    reservationId: paid.reservationId,
  });
}

export function paymentCompletedEvent(input: PaymentFactsInput & { paidAt: string }): PaymentCompletedEvent {
  return { ...paymentFacts(input), paidAt: input.paidAt };
}

/** The internal `payment.refunded` event and the Kafka message value (SPEC §7); also the outbox payload. */
export interface PaymentRefundedEvent extends PaymentFacts {
  refundedAt: string;
}

export function paymentRefundedEvent(input: PaymentFactsInput & { refundedAt: string }): PaymentRefundedEvent {
  return { ...paymentFacts(input), refundedAt: input.refundedAt };
}

/**
 * What a refund request does with a reservation in `status`: refund a CONFIRMED one, answer a
 * REFUNDED one as it is (a repeat refunds nothing), refuse anything else with 409.
 */
export function refundDecision(reservationId: number, status: ReservationStatus): "REFUND" | "REPLAY" | DomainError {
  if (status === "CONFIRMED") return "REFUND";
  if (status === "REFUNDED") return "REPLAY";
  return domainError("RESERVATION_NOT_CONFIRMED", `Reservation ${reservationId} is ${status}, not CONFIRMED`, { reservationId, status });
}
