/**
 * The operator's input rules for concerts and schedules (SPEC §7), pure so they are testable
 * without a database. Types and ranges are checked by the actions' parameter schemas first; these
 * are the rules across fields, checked before anything is written.
 */
import { validationError } from "../../lib/errors";

/** A schedule has 1..10,000 seats in all (SPEC §7). */
export const MAX_SEATS_PER_SCHEDULE = 10_000;
export const MAX_SECTIONS_PER_SCHEDULE = 100;
/** Highest seat price an operator may set (integer points). */
export const MAX_SEAT_PRICE = 10_000_000;

export interface SectionSpec {
  name: string;
  rows: number;
  seatsPerRow: number;
  price: number;
}

/** One seat to create: `row` is its row label ("1", "2", ...), `number` its place in that row. */
export interface SeatSpec {
  section: string;
  row: string;
  number: number;
  price: number;
}

/** `YYYY-MM-DDTHH:MM[:SS[.sss]]` with `Z` or an offset: the ISO-8601 instants the API accepts. */
export const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;

/** An optional instant of the API: undefined = not given, null = cleared (open now). */
export function parseInstant(value: string | null | undefined, field: string): Date | null | undefined {
  if (value === undefined || value === null) return value;
  const date = new Date(value);
  if (!ISO_INSTANT.test(value) || Number.isNaN(date.getTime())) {
    throw validationError(field, `${field} must be an ISO-8601 instant such as 2027-05-01T10:00:00Z`, value);
  }
  return date;
}

/** The sale may not open before its queue (both optional: null = open now). */
export function assertSaleWindows(queueOpensAt: Date | null, saleOpensAt: Date | null): void {
  if (queueOpensAt && saleOpensAt && saleOpensAt.getTime() < queueOpensAt.getTime()) {
    throw validationError("saleOpensAt", "saleOpensAt must not be before queueOpensAt", saleOpensAt.toISOString());
  }
}

export function seatCount(sections: readonly SectionSpec[]): number {
  return sections.reduce((sum, section) => sum + section.rows * section.seatsPerRow, 0);
}

/** Section names unique (case-insensitively: "VIP" and "vip" would confuse buyers), 1..10,000 seats. */
export function assertLayout(sections: readonly SectionSpec[]): void {
  const seen = new Set<string>();
  for (const [index, section] of sections.entries()) {
    const key = section.name.trim().toLowerCase();
    if (seen.has(key)) throw validationError(`sections[${index}].name`, `Section name "${section.name}" is used twice`, section.name);
    seen.add(key);
  }
  const total = seatCount(sections);
  if (total < 1 || total > MAX_SEATS_PER_SCHEDULE) {
    throw validationError("sections", `A schedule has 1 to ${MAX_SEATS_PER_SCHEDULE} seats in all, not ${total}`, total);
  }
}

/** Every seat of a layout, section by section, row by row ("1".."rows"), numbered 1..seatsPerRow. */
export function layoutSeats(sections: readonly SectionSpec[]): SeatSpec[] {
  const seats: SeatSpec[] = [];
  for (const section of sections) {
    for (let row = 1; row <= section.rows; row++) {
      for (let number = 1; number <= section.seatsPerRow; number++) {
        seats.push({ section: section.name.trim(), row: String(row), number, price: section.price });
      }
    }
  }
  return seats;
}
