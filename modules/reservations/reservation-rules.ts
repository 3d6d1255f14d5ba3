/**
 * Rules of a seat hold that need no database: which seat lists are acceptable, in what order seats
 * are locked, what a hold costs, which status changes are allowed and how a lapsed hold reads.
 */
import type { ReservationStatus } from "./models/reservation";

export const MIN_SEATS_PER_RESERVATION = 1;
export const MAX_SEATS_PER_RESERVATION = 4;
/** Largest id a PostgreSQL `int` column holds; bigger ids cannot exist and must not reach SQL. */
export const MAX_ROW_ID = 2_147_483_647;

export type ReleaseReason = "CANCELLED" | "EXPIRED";

export interface PricedSeat {
  id: number;
  section: string;
  row: string;
  /** The seat's number within its row. */
  number: number;
  price: number;
}

export interface LockableSeat {
  id: number;
  status: string;
}

export function isRowId(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value > 0 && value <= MAX_ROW_ID;
}

/**
 * The problem with a requested seat list, or null when it is acceptable: 1–4 distinct row ids.
 * (The action's params schema says the same; this keeps the rule usable without a broker.)
 */
export function seatListProblem(seatIds: unknown): string | null {
  if (!Array.isArray(seatIds)) return "seatIds must be an array";
  if (seatIds.length < MIN_SEATS_PER_RESERVATION) return "seatIds must name at least one seat";
  if (seatIds.length > MAX_SEATS_PER_RESERVATION) return `seatIds may name at most ${MAX_SEATS_PER_RESERVATION} seats`;
  if (!seatIds.every(isRowId)) return "seatIds must be positive integer ids";
  if (new Set(seatIds).size !== seatIds.length) return "seatIds must not repeat a seat";
  return null;
}

/** Ascending ids: the one order every transaction locks seat rows in (no lock cycles). */
export function seatLockOrder(seatIds: readonly number[]): number[] {
  return [...new Set(seatIds)].sort((a, b) => a - b);
}

/** Redis lock names of a hold request, one per seat (seat ids are unique across schedules). */
export function seatLockKeys(seatIds: readonly number[]): string[] {
  return seatLockOrder(seatIds).map((id) => `seat:${id}`);
}

/** The seat ids back from lock names made by seatLockKeys (other names are ignored). */
export function seatIdsOfLockKeys(names: readonly string[]): number[] {
  return seatLockOrder(names.flatMap((name) => (/^seat:\d+$/.test(name) ? [Number(name.slice(5))] : [])));
}

/** Requested ids that are not among the seats found in the schedule. */
export function missingSeatIds(requested: readonly number[], found: readonly { id: number }[]): number[] {
  const present = new Set(found.map((seat) => seat.id));
  return seatLockOrder(requested.filter((id) => !present.has(id)));
}

/** Ids of seats that cannot be held now (HELD by someone or SOLD). */
export function unavailableSeatIds(seats: readonly LockableSeat[]): number[] {
  return seatLockOrder(seats.filter((seat) => seat.status !== "AVAILABLE").map((seat) => seat.id));
}

/** What the hold costs: the sum of its seats' prices (integer points). */
export function holdAmount<S extends Pick<PricedSeat, "id" | "price">>(seats: readonly S[]): number {
  return seats.reduce((sum, seat) => {
    if (!Number.isInteger(seat.price) || seat.price < 0) throw new RangeError(`Invalid price ${seat.price} of seat ${seat.id}`);
    return sum + seat.price;
  }, 0);
}

const TRANSITIONS: Record<ReservationStatus, readonly ReservationStatus[]> = {
  HELD: ["CONFIRMED", "CANCELLED", "EXPIRED"],
  // An operator's refund gives a paid reservation's seats back (SPEC §7).
  CONFIRMED: ["REFUNDED"],
  CANCELLED: [],
  EXPIRED: [],
  REFUNDED: [],
};

export function canTransition(from: ReservationStatus, to: ReservationStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Whether a reservation in this state keeps its seats (the `live` flag of reservation_seat). */
export function isLive(status: ReservationStatus): boolean {
  return status === "HELD" || status === "CONFIRMED";
}

/**
 * The status a reader should see: a HELD reservation whose hold has run out is EXPIRED even before
 * the sweeper has written that down (the sweeper only frees the seats).
 */
export function effectiveStatus(status: ReservationStatus, expiresAt: Date, now: Date): ReservationStatus {
  return status === "HELD" && expiresAt.getTime() <= now.getTime() ? "EXPIRED" : status;
}
