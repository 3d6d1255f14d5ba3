/**
 * Shapes the reservations service answers with and emits (SPEC §3, contracts of the internal
 * events), and the one query that reads a reservation back.
 */
import type { EntityManager } from "@mikro-orm/postgresql";
import { domainError } from "../../lib/errors";
import { toDate, type Timestamp } from "../../lib/db/timestamps";
import type { ReservationStatus } from "./models/reservation";
import { effectiveStatus, type PricedSeat, type ReleaseReason } from "./reservation-rules";

export { toDate, type Timestamp } from "../../lib/db/timestamps";

export interface ReservationView {
  id: number;
  status: ReservationStatus;
  concertId: number;
  scheduleId: number;
  seats: PricedSeat[];
  amount: number;
  expiresAt: string;
}

/** Payload of `reservation.held`. */
export interface ReservationHeldEvent {
  reservationId: number;
  userId: string;
  concertId: number;
  scheduleId: number;
  seatIds: number[];
  expiresAt: string;
}

/** Payload of `reservation.released`. */
export interface ReservationReleasedEvent {
  reservationId: number;
  userId: string;
  concertId: number;
  scheduleId: number;
  seatIds: number[];
  reason: ReleaseReason;
}

export interface ReservationRow {
  id: number;
  user_id: string;
  concert_id: number;
  schedule_id: number;
  status: ReservationStatus;
  amount: number;
  expires_at: Timestamp;
  /** The database clock, so expiry never depends on a node's clock. */
  db_now: Timestamp;
}

export const RESERVATION_COLUMNS = "id, user_id, concert_id, schedule_id, status, amount, expires_at, now() as db_now";

export function toView(row: ReservationRow, seats: PricedSeat[]): ReservationView {
  return {
    id: row.id,
    status: effectiveStatus(row.status, toDate(row.expires_at), toDate(row.db_now)),
    concertId: row.concert_id,
    scheduleId: row.schedule_id,
    seats,
    amount: row.amount,
    expiresAt: toDate(row.expires_at).toISOString(),
  };
}

export async function reservationSeats(em: EntityManager, reservationId: number): Promise<PricedSeat[]> {
  return em.execute<PricedSeat[]>(
    `select rs.seat_id as id, s.section, s.row_label as row, rs.number, rs.price
       from reservation_seat rs join seat s on s.id = rs.seat_id
      where rs.reservation_id = ? order by rs.seat_id`,
    [reservationId],
  );
}

/**
 * The caller's reservation. Someone else's answers 404 exactly like a missing one, so ids of other
 * users' reservations cannot be probed. A HELD reservation past its expiry reads as EXPIRED at once
 * (the sweeper frees its seats within RESERVATION_SWEEP_S).
 */
export async function findReservation(em: EntityManager, reservationId: number, userId: string): Promise<ReservationView> {
  const [row] = await em.execute<ReservationRow[]>(
    `select ${RESERVATION_COLUMNS} from reservation where id = ? and user_id = ?`,
    [reservationId, userId],
  );
  if (!row) throw reservationNotFound(reservationId);
  return toView(row, await reservationSeats(em, reservationId));
}

export function reservationNotFound(reservationId: number) {
  return domainError("RESERVATION_NOT_FOUND", `Reservation ${reservationId} not found`, { reservationId });
}
