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

interface LockedSeatRow extends SeatRow {
  concert_id: number;
  /** The user's seats in live reservations of the schedule (count(*): a string from pg). */
  user_seats: string | number;
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
 * lock of (user, schedule), taken first: the second waits until the first commits and then counts its
 * seats (the count is part of the next statement, whose snapshot is taken after the lock was granted).
 * Nothing else takes this lock, and it comes before every row lock, so it adds no deadlock.
 */
async function takeHoldCapLock(tx: EntityManager, request: HoldRequest): Promise<void> {
  await tx.execute("select pg_advisory_xact_lock(hashtextextended(?, 0))", [`hold-cap:${request.userId}:${request.scheduleId}`]);
}

function assertUnderHoldCap(request: HoldRequest, held: number, requested: number): void {
  const max = request.maxSeatsPerUser ?? getConfig().reservationMaxSeatsPerUser;
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
 * The requested seats, locked FOR UPDATE NOWAIT in id order, with their concert and the user's live
 * seats in the schedule: one round trip where there were three (schedule, count, seats).
 */
const LOCK_SEATS_SQL = `select s.id, s.section, s.row_label as row, s.number, s.price, s.status, sc.concert_id,
    (select count(*) from reservation_seat rs join reservation r on r.id = rs.reservation_id
      where r.user_id = ? and r.schedule_id = ?
        and (r.status = 'CONFIRMED' or (r.status = 'HELD' and r.expires_at > clock_timestamp()))) as user_seats
   from seat s join schedule sc on sc.id = s.schedule_id
  where s.schedule_id = ? and s.id in (?) order by s.id for update of s nowait`;

/** The seats HELD, the reservation and its lines written in one statement (data-modifying CTEs). */
const WRITE_HOLD_SQL = `with held as (update seat set status = 'HELD' where id in (?)),
    r as (insert into reservation (user_id, concert_id, schedule_id, status, amount, expires_at)
          values (?, ?, ?, 'HELD', ?, now() + make_interval(secs => ?)) returning id, expires_at),
    lines as (insert into reservation_seat (reservation_id, seat_id, number, price, live)
          select r.id, s.id, s.number, s.price, true from r, seat s where s.id in (?))
  select id, expires_at from r`;

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
      await takeHoldCapLock(tx, request);
      const seats = await tx.execute<LockedSeatRow[]>(LOCK_SEATS_SQL, [request.userId, request.scheduleId, request.scheduleId, seatIds]);
      // No row: an unknown schedule (404 SCHEDULE_NOT_FOUND) or none of its seats.
      const concertId = seats.length > 0 ? seats[0].concert_id : await scheduleConcertId(tx, request.scheduleId);
      if (seats.length > 0) assertUnderHoldCap(request, Number(seats[0].user_seats), seatIds.length);
      const missing = missingSeatIds(seatIds, seats);
      if (missing.length > 0) {
        throw domainError("SEAT_NOT_FOUND", `No such seats in schedule ${request.scheduleId}`, { seatIds: missing });
      }
      const unavailable = unavailableSeatIds(seats);
      if (unavailable.length > 0) throw seatsUnavailable(unavailable);

      const amount = holdAmount(seats);
      const [reservation] = await tx.execute<Array<{ id: number; expires_at: Timestamp }>>(WRITE_HOLD_SQL, [
        seatIds,
        request.userId,
        concertId,
        request.scheduleId,
        amount,
        request.holdSeconds,
        seatIds,
      ]);

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
