/**
 * Ending a hold: cancel by its owner, or expiry by the sweeper. Both lock the reservation row first
 * and then its seats in ascending id order (the order payments use too), so they cannot deadlock
 * with each other or with a payment of the same reservation.
 */
import type { EntityManager } from "@mikro-orm/postgresql";
import { domainError } from "../../lib/errors";
import { effectiveStatus, seatLockOrder, type ReleaseReason } from "./reservation-rules";
import {
  RESERVATION_COLUMNS,
  reservationNotFound,
  reservationSeats,
  toDate,
  toView,
  type ReservationReleasedEvent,
  type ReservationRow,
  type ReservationView,
} from "./reservation-views";
import { transactional } from "../../lib/db/transient-retry";

const STATUS_OF: Record<ReleaseReason, "CANCELLED" | "EXPIRED"> = { CANCELLED: "CANCELLED", EXPIRED: "EXPIRED" };

/**
 * Ends HELD reservations whose rows the caller's transaction has locked: status CANCELLED/EXPIRED,
 * reservation_seat rows no longer live, and the seats they held AVAILABLE again. Returns one event
 * per reservation actually released (one that is no longer HELD is left alone).
 */
export async function releaseHolds(tx: EntityManager, reservationIds: number[], reason: ReleaseReason): Promise<ReservationReleasedEvent[]> {
  if (reservationIds.length === 0) return [];
  const released = await tx.execute<Array<{ id: number; user_id: string; concert_id: number; schedule_id: number }>>(
    `update reservation set status = ?, updated_at = now()
     where id in (?) and status = 'HELD' returning id, user_id, concert_id, schedule_id`,
    [STATUS_OF[reason], reservationIds],
  );
  if (released.length === 0) return [];
  const ids = released.map((row) => row.id);
  const links = await tx.execute<Array<{ reservation_id: number; seat_id: number }>>(
    "select reservation_id, seat_id from reservation_seat where reservation_id in (?) and live order by seat_id",
    [ids],
  );
  const seatIds = seatLockOrder(links.map((link) => link.seat_id));
  if (seatIds.length > 0) {
    await tx.execute("select id from seat where id in (?) order by id for update", [seatIds]);
    // Only seats still HELD: a live link of a HELD reservation means this hold owns them.
    await tx.execute("update seat set status = 'AVAILABLE' where id in (?) and status = 'HELD'", [seatIds]);
    await tx.execute("update reservation_seat set live = false where reservation_id in (?) and live", [ids]);
  }
  return released.map((row) => ({
    reservationId: row.id,
    userId: row.user_id,
    concertId: row.concert_id,
    scheduleId: row.schedule_id,
    seatIds: links.filter((link) => link.reservation_id === row.id).map((link) => link.seat_id),
    reason,
  }));
}

export interface CancelOutcome {
  view: ReservationView;
  /** What happened to the hold in this call (emit after commit), or null when nothing changed. */
  released: ReservationReleasedEvent | null;
}

/**
 * The owner cancels a HELD reservation. A hold whose time has run out is expired here instead (the
 * sweeper may not have reached it yet) and the caller then answers 409 like for any hold that is no
 * longer HELD; use `assertCancelled` on the outcome after the transaction has committed.
 */
export async function cancelHold(em: EntityManager, reservationId: number, userId: string): Promise<CancelOutcome> {
  // Not after a lost COMMIT: the repeat would find the hold CANCELLED and answer 409.
  return transactional(em, async (tx) => {
    const [row] = await tx.execute<ReservationRow[]>(
      `select ${RESERVATION_COLUMNS} from reservation where id = ? and user_id = ? for update`,
      [reservationId, userId],
    );
    if (!row) throw reservationNotFound(reservationId);
    const status = effectiveStatus(row.status, toDate(row.expires_at), toDate(row.db_now));
    let released: ReservationReleasedEvent | null = null;
    if (row.status === "HELD") {
      [released] = await releaseHolds(tx, [row.id], status === "EXPIRED" ? "EXPIRED" : "CANCELLED");
    }
    const finalStatus = released ? STATUS_OF[released.reason] : row.status;
    return { view: toView({ ...row, status: finalStatus }, await reservationSeats(tx, row.id)), released };
  }, { repeatAfterLostCommit: false });
}

/** 409 RESERVATION_NOT_HELD unless this call is the one that cancelled the reservation. */
export function assertCancelled(outcome: CancelOutcome): ReservationView {
  if (outcome.released?.reason === "CANCELLED") return outcome.view;
  throw domainError("RESERVATION_NOT_HELD", `Reservation ${outcome.view.id} is ${outcome.view.status}, not HELD`, {
    reservationId: outcome.view.id,
    status: outcome.view.status,
  });
}

/**
 * One sweep batch: the oldest HELD reservations past their expiry, locked with SKIP LOCKED so
 * sweepers on several nodes (and a cancel or payment in flight) each take different rows.
 */
export async function expireDueHolds(em: EntityManager, limit: number): Promise<ReservationReleasedEvent[]> {
  // Single by row state (only HELD rows past expiry): a repeat after a lost COMMIT finds nothing.
  return transactional(em, async (tx) => {
    const due = await tx.execute<Array<{ id: number }>>(
      `select id from reservation where status = 'HELD' and expires_at <= now()
       order by expires_at limit ? for update skip locked`,
      [limit],
    );
    return releaseHolds(tx, due.map((row) => row.id), "EXPIRED");
  }, { repeatAfterLostCommit: true });
}
