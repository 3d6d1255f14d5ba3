/**
 * The operator's list of a schedule's reservations (SPEC §7), read through the entity manager.
 * A HELD reservation whose hold has run out is listed (and filtered) as EXPIRED, as the buyer sees it.
 */
import type { EntityManager } from "@mikro-orm/postgresql";
import { domainError } from "../../lib/errors";
import { Schedule } from "../catalog/models/schedule";
import { Seat } from "../catalog/models/seat";
import { Reservation, ReservationStatuses, type ReservationStatus } from "./models/reservation";
import { ReservationSeat } from "./models/reservation-seat";
import { effectiveStatus } from "./reservation-rules";

export const LISTING_DEFAULT_LIMIT = 1000;
export const LISTING_MAX_LIMIT = 10_000;

export interface ListingSeat {
  id: number;
  section: string;
  row: string;
  number: number;
  price: number;
}

export interface ListingEntry {
  id: number;
  userId: string;
  status: ReservationStatus;
  seats: ListingSeat[];
  amount: number;
  createdAt: string;
}

export interface ListingQuery {
  scheduleId: number;
  status?: ReservationStatus;
  /** Keyset paging: only reservations with a larger id. */
  afterId?: number;
  limit?: number;
}

/** The stored statuses that can read as `wanted` (a lapsed HELD reads as EXPIRED). */
export function storedStatusesFor(wanted: ReservationStatus | undefined): readonly ReservationStatus[] {
  if (wanted === undefined) return ReservationStatuses;
  if (wanted === "EXPIRED") return ["EXPIRED", "HELD"];
  return [wanted];
}

export async function listScheduleReservations(em: EntityManager, query: ListingQuery): Promise<ListingEntry[]> {
  const schedule = await em.findOne(Schedule, { id: query.scheduleId }, { fields: ["id"] });
  if (!schedule) throw domainError("SCHEDULE_NOT_FOUND", `Schedule ${query.scheduleId} not found`, { scheduleId: query.scheduleId });

  const [{ now }] = await em.execute<Array<{ now: Date | string }>>("select now() as now");
  const dbNow = new Date(now);
  const limit = query.limit ?? LISTING_DEFAULT_LIMIT;
  // A few lapsed holds may be dropped by the EXPIRED/HELD filter below; read one page and filter.
  const rows = await em.find(
    Reservation,
    {
      scheduleId: query.scheduleId,
      status: { $in: [...storedStatusesFor(query.status)] },
      ...(query.afterId ? { id: { $gt: query.afterId } } : {}),
    },
    { orderBy: { id: "asc" }, limit },
  );
  const listed = rows
    .map((row) => ({ row, status: effectiveStatus(row.status, row.expiresAt, dbNow) }))
    .filter((entry) => query.status === undefined || entry.status === query.status);
  if (listed.length === 0) return [];

  const ids = listed.map((entry) => entry.row.id);
  const links = await em.find(ReservationSeat, { reservationId: { $in: ids } }, { orderBy: { seatId: "asc" } });
  const seats = await em.find(Seat, { id: { $in: [...new Set(links.map((link) => link.seatId))] } }, { fields: ["id", "section", "row"] });
  const seatById = new Map(seats.map((seat) => [seat.id, seat]));
  const seatsOf = new Map<number, ListingSeat[]>();
  for (const link of links) {
    const seat = seatById.get(link.seatId);
    const line = { id: link.seatId, section: seat?.section ?? "", row: seat?.row ?? "", number: link.number, price: link.price };
    seatsOf.set(link.reservationId, [...(seatsOf.get(link.reservationId) ?? []), line]);
  }
  return listed.map(({ row, status }) => ({
    id: row.id,
    userId: row.userId,
    status,
    seats: seatsOf.get(row.id) ?? [],
    amount: row.amount,
    createdAt: row.createdAt.toISOString(),
  }));
}
