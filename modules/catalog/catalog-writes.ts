/**
 * The operator's writes (SPEC §7): concerts with their sale windows, schedules with their seats.
 * The operator API, the demo seed and the tests' fixtures all create through these functions.
 * CRUD goes through the entity manager; the seats of a schedule are one bulk statement.
 */
import { LockMode } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import { domainError } from "../../lib/errors";
import { Concert } from "./models/concert";
import { Schedule } from "./models/schedule";
import { assertLayout, assertSaleWindows, layoutSeats, parseInstant, type SeatSpec, type SectionSpec } from "./catalog-rules";
import { toConcertView, type ConcertView } from "./catalog-queries";
import { seatPrice } from "./seat-pricing";

export const DEFAULT_SEATS_PER_SCHEDULE = 50;

export interface ConcertInput {
  title: string;
  venue: string;
  /** ISO-8601; omitted or null = open now. */
  queueOpensAt?: string | null;
  saleOpensAt?: string | null;
}

export type ConcertPatch = Partial<ConcertInput>;

export interface ScheduleInput {
  /** ISO-8601. */
  startsAt: string;
  sections: SectionSpec[];
}

export interface CreatedSchedule {
  id: number;
  concertId: number;
  startsAt: string;
  totalSeats: number;
}

export async function addConcert(em: EntityManager, input: ConcertInput): Promise<ConcertView> {
  const queueOpensAt = parseInstant(input.queueOpensAt, "queueOpensAt") ?? null;
  const saleOpensAt = parseInstant(input.saleOpensAt, "saleOpensAt") ?? null;
  assertSaleWindows(queueOpensAt, saleOpensAt);
  const concert = em.create(Concert, { title: input.title.trim(), venue: input.venue.trim(), queueOpensAt, saleOpensAt });
  await em.persist(concert).flush();
  return toConcertView(concert);
}

/** Changes the given fields; the windows are checked as they will be after the change. */
export async function updateConcert(em: EntityManager, concertId: number, patch: ConcertPatch): Promise<ConcertView> {
  const queueOpensAt = parseInstant(patch.queueOpensAt, "queueOpensAt");
  const saleOpensAt = parseInstant(patch.saleOpensAt, "saleOpensAt");
  return em.transactional(async (tx) => {
    // Row-locked so two operators' patches cannot combine into windows neither of them checked.
    const concert = await tx.findOne(Concert, concertId, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!concert) throw domainError("CONCERT_NOT_FOUND", `Concert ${concertId} not found`, { concertId });
    if (patch.title !== undefined) concert.title = patch.title.trim();
    if (patch.venue !== undefined) concert.venue = patch.venue.trim();
    if (queueOpensAt !== undefined) concert.queueOpensAt = queueOpensAt;
    if (saleOpensAt !== undefined) concert.saleOpensAt = saleOpensAt;
    assertSaleWindows(concert.queueOpensAt, concert.saleOpensAt);
    return toConcertView(concert);
  });
}

/** A schedule of an existing concert with the seats of its sections (1..10,000 in all). */
export async function addSchedule(em: EntityManager, concertId: number, input: ScheduleInput): Promise<CreatedSchedule> {
  const startsAt = parseInstant(input.startsAt, "startsAt")!;
  assertLayout(input.sections);
  return insertSchedule(em, concertId, startsAt, layoutSeats(input.sections));
}

async function insertSchedule(em: EntityManager, concertId: number, startsAt: Date, seats: SeatSpec[]): Promise<CreatedSchedule> {
  return em.transactional(async (tx) => {
    // Shares the concert row so it cannot disappear before the schedule commits; 404 instead of an FK error.
    const concert = await tx.findOne(Concert, concertId, { lockMode: LockMode.PESSIMISTIC_READ });
    if (!concert) throw domainError("CONCERT_NOT_FOUND", `Concert ${concertId} not found`, { concertId });
    const schedule = tx.create(Schedule, { concertId, startsAt, totalSeats: seats.length });
    await tx.persist(schedule).flush();
    // Hand-written: up to 10,000 rows in one statement with one parameter (a JSON array), where the
    // unit of work would send one insert per seat.
    await tx.execute(
      `insert into seat (schedule_id, section, row_label, number, price, status)
       select ?, s.section, s.row, s.number, s.price, 'AVAILABLE'
         from jsonb_to_recordset(?::jsonb) as s(section varchar, row varchar, number int, price int)`,
      [schedule.id, JSON.stringify(seats)],
    );
    return { id: schedule.id, concertId, startsAt: startsAt.toISOString(), totalSeats: seats.length };
  });
}

/**
 * Test and benchmark fixture (the v1 helper): a concert open now. Goes through addConcert.
 */
export async function createConcert(em: EntityManager, title: string, venue: string): Promise<number> {
  return (await addConcert(em, { title, venue })).id;
}

/**
 * Test and benchmark fixture (the v1 helper): one section "A", one row "1", seats 1..seatCount
 * priced by seat number, all AVAILABLE.
 */
export async function createSchedule(
  em: EntityManager,
  concertId: number,
  startsAt: Date,
  seatCount = DEFAULT_SEATS_PER_SCHEDULE,
  priceOf: (seatNumber: number) => number = seatPrice,
): Promise<number> {
  const seats = Array.from({ length: seatCount }, (_, i) => ({ section: "A", row: "1", number: i + 1, price: priceOf(i + 1) }));
  return (await insertSchedule(em, concertId, startsAt, seats)).id;
}
