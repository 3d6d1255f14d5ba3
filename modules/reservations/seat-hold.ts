/**
 * Holding seats: the PostgreSQL side of a reservation. The Redis lock in front of it only spares the
 * database most of the contention; everything here is correct without it:
 *  - seat rows are locked FOR UPDATE NOWAIT in ascending id order, so two holds of the same seat
 *    never both see it AVAILABLE and a loser is told at once instead of queueing;
 *  - the partial unique index reservation_seat (seat_id) WHERE live refuses a second live row for a
 *    seat even if a bug skipped the row lock.
 */
import type { EntityManager } from "@mikro-orm/postgresql";
import { domainError } from "../../lib/errors";
import {
  holdAmount,
  missingSeatIds,
  seatLockOrder,
  unavailableSeatIds,
  type PricedSeat,
} from "./reservation-rules";
import { toDate, type ReservationHeldEvent, type ReservationView, type Timestamp } from "./reservation-views";
import { transactional } from "../../lib/db/transient-retry";
import { getConfig } from "../../lib/config";

export interface HoldRequest {
  userId: string;
  scheduleId: number;
  seatIds: number[];
  holdSeconds: number;
  /** Seats the user may have in live reservations of the schedule (RESERVATION_MAX_SEATS_PER_USER). */
  maxSeatsPerUser?: number;
}

export interface HeldReservation {
  view: ReservationView;
  event: ReservationHeldEvent;
}

interface SeatRow extends PricedSeat {
  status: string;
}

/** PostgreSQL error codes a hold maps to "someone else has that seat". */
const LOCK_NOT_AVAILABLE = "55P03";
const UNIQUE_VIOLATION = "23505";
const LIVE_SEAT_INDEX = "reservation_seat_live_uq";

export function pgErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The concert of a schedule, or 404 SCHEDULE_NOT_FOUND. */
export async function scheduleConcertId(em: EntityManager, scheduleId: number): Promise<number> {
  const [row] = await em.execute<Array<{ concert_id: number }>>("select concert_id from schedule where id = ?", [scheduleId]);
  if (!row) throw domainError("SCHEDULE_NOT_FOUND", `Schedule ${scheduleId} not found`, { scheduleId });
  return row.concert_id;
}

/**
 * 409 SEAT_UNAVAILABLE. `seatIds` are the seats found HELD/SOLD, or all requested seats when the
 * conflict was a lock of a reservation in flight (which of them it touches is not known).
 */
export function seatsUnavailable(seatIds: number[]) {
  return domainError("SEAT_UNAVAILABLE", "One or more seats are not available", { seatIds });
}

/**
 * Fair holds (SPEC §8): at most `maxSeatsPerUser` seats per user and schedule across live (HELD and
 * unexpired, or CONFIRMED) reservations, 409 HOLD_LIMIT_REACHED beyond it. Two holds of one user
 * counting at the same time would both pass, so the count runs under a transaction-scoped advisory
 * lock of (user, schedule): the second waits until the first commits and then counts its seats.
 * Nothing else takes this lock, and it comes before every row lock, so it adds no deadlock.
 */
async function enforceHoldCap(tx: EntityManager, request: HoldRequest, requested: number): Promise<void> {
  const max = request.maxSeatsPerUser ?? getConfig().reservationMaxSeatsPerUser;
  await tx.execute("select pg_advisory_xact_lock(hashtextextended(?, 0))", [`hold-cap:${request.userId}:${request.scheduleId}`]);
  const [row] = await tx.execute<Array<{ seats: string | number }>>(
    `select count(*) as seats from reservation_seat rs join reservation r on r.id = rs.reservation_id
      where r.user_id = ? and r.schedule_id = ?
        and (r.status = 'CONFIRMED' or (r.status = 'HELD' and r.expires_at > clock_timestamp()))`,
    [request.userId, request.scheduleId],
  );
  const held = Number(row?.seats ?? 0);
  if (held + requested > max) {
    throw domainError("HOLD_LIMIT_REACHED", `At most ${max} seats per user in live reservations of one schedule`, {
      scheduleId: request.scheduleId,
      limit: max,
      held,
      requested,
    });
  }
}

/**
 * Holds 1–4 seats of one schedule for one user, all or nothing, in one transaction.
 * 404 SCHEDULE_NOT_FOUND / SEAT_NOT_FOUND (ids not in that schedule, listed in data.seatIds),
 * 409 SEAT_UNAVAILABLE (held, sold, or being changed by another transaction right now).
 */
export async function holdSeats(em: EntityManager, request: HoldRequest): Promise<HeldReservation> {
  const seatIds = seatLockOrder(request.seatIds);
  try {
    // Transient PostgreSQL errors: run again (row locks make a second hold impossible), but not after
    // a lost COMMIT: that hold may exist, and a repeat would refuse the user's own seats.
    return await transactional(em, async (tx) => {
      const concertId = await scheduleConcertId(tx, request.scheduleId);
      await enforceHoldCap(tx, request, seatIds.length);
      const seats = await tx.execute<SeatRow[]>(
        "select id, section, row_label as row, number, price, status from seat where schedule_id = ? and id in (?) order by id for update nowait",
        [request.scheduleId, seatIds],
      );
      const missing = missingSeatIds(seatIds, seats);
      if (missing.length > 0) {
        throw domainError("SEAT_NOT_FOUND", `No such seats in schedule ${request.scheduleId}`, { seatIds: missing });
      }
      const unavailable = unavailableSeatIds(seats);
      if (unavailable.length > 0) throw seatsUnavailable(unavailable);

      await tx.execute("update seat set status = 'HELD' where id in (?)", [seatIds]);
      const amount = holdAmount(seats);
      const [reservation] = await tx.execute<Array<{ id: number; expires_at: Timestamp }>>(
        `insert into reservation (user_id, concert_id, schedule_id, status, amount, expires_at)
         values (?, ?, ?, 'HELD', ?, now() + make_interval(secs => ?)) returning id, expires_at`,
        [request.userId, concertId, request.scheduleId, amount, request.holdSeconds],
      );
      await tx.execute(
        `insert into reservation_seat (reservation_id, seat_id, number, price, live) values ${seats.map(() => "(?, ?, ?, ?, true)").join(", ")}`,
        seats.flatMap((seat) => [reservation.id, seat.id, seat.number, seat.price]),
      );

      const lines = seats.map(({ id, section, row, number, price }) => ({ id, section, row, number, price }));
      const expiresAt = toDate(reservation.expires_at).toISOString();
      return {
        view: { id: reservation.id, status: "HELD", concertId, scheduleId: request.scheduleId, seats: lines, amount, expiresAt },
        event: {
          reservationId: reservation.id,
          userId: request.userId,
          concertId,
          scheduleId: request.scheduleId,
          seatIds,
          expiresAt,
        },
      } satisfies HeldReservation;
    }, { repeatAfterLostCommit: false });
  } catch (err) {
    const code = pgErrorCode(err);
    const constraint = (err as { constraint?: unknown }).constraint;
    // Another transaction holds a row lock on one of the seats, or (the last guard) already has a
    // live reservation row for it: either way the seat is not available to this request.
    if (code === LOCK_NOT_AVAILABLE) throw seatsUnavailable(seatIds);
    if (code === UNIQUE_VIOLATION && constraint === LIVE_SEAT_INDEX) throw seatsUnavailable(seatIds);
    throw err;
  }
}
