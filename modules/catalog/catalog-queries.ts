import type { EntityManager } from "@mikro-orm/postgresql";
import { domainError } from "../../lib/errors";
import { Concert } from "./models/concert";
import { Schedule } from "./models/schedule";
import type { SeatStatus } from "./models/seat";

export interface ConcertView {
  id: number;
  title: string;
  venue: string;
  /** ISO-8601 UTC, or null = the queue is open now. */
  queueOpensAt: string | null;
  /** ISO-8601 UTC, or null = the sale is open now (from queueOpensAt on). */
  saleOpensAt: string | null;
}

export function toConcertView(concert: Concert): ConcertView {
  return {
    id: concert.id,
    title: concert.title,
    venue: concert.venue,
    queueOpensAt: concert.queueOpensAt ? concert.queueOpensAt.toISOString() : null,
    saleOpensAt: concert.saleOpensAt ? concert.saleOpensAt.toISOString() : null,
  };
}

export async function listConcerts(em: EntityManager): Promise<ConcertView[]> {
  const concerts = await em.find(Concert, {}, { orderBy: { id: "asc" } });
  return concerts.map(toConcertView);
}

export async function getConcert(em: EntityManager, concertId: number): Promise<ConcertView> {
  const concert = await em.findOne(Concert, concertId);
  if (!concert) throw domainError("CONCERT_NOT_FOUND", `Concert ${concertId} not found`, { concertId });
  return toConcertView(concert);
}

export interface ScheduleView {
  id: number;
  concertId: number;
  /** ISO-8601 UTC. */
  startsAt: string;
  totalSeats: number;
}

export interface ScheduleAvailability extends ScheduleView {
  availableSeats: number;
}

export interface SeatView {
  id: number;
  section: string;
  row: string;
  /** The seat's number within its row. */
  number: number;
  price: number;
  status: SeatStatus;
}

interface ScheduleRow {
  id: number;
  concert_id: number;
  starts_at: string;
  total_seats: number;
}

/** starts_at as ISO-8601 UTC, formatted by PostgreSQL (raw rows carry timestamptz as text). */
const STARTS_AT_ISO = `to_char(s.starts_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as starts_at`;

function toScheduleView(row: ScheduleRow): ScheduleView {
  return { id: row.id, concertId: row.concert_id, startsAt: row.starts_at, totalSeats: row.total_seats };
}

export async function getSchedule(em: EntityManager, scheduleId: number): Promise<ScheduleView> {
  const schedule = await em.findOne(Schedule, scheduleId);
  if (!schedule) throw domainError("SCHEDULE_NOT_FOUND", `Schedule ${scheduleId} not found`, { scheduleId });
  return { id: schedule.id, concertId: schedule.concertId, startsAt: schedule.startsAt.toISOString(), totalSeats: schedule.totalSeats };
}

/**
 * Every schedule of a concert, earliest first, with how many seats are AVAILABLE, in one query
 * (the left joins from concert tell "no such concert" apart from "no schedules yet").
 * Hand-written: an aggregate over every seat, which the entity manager would load row by row.
 */
export async function listSchedules(em: EntityManager, concertId: number): Promise<ScheduleAvailability[]> {
  const rows = await em.execute<Array<Partial<ScheduleRow> & { available_seats: number }>>(
    `select s.id, s.concert_id, ${STARTS_AT_ISO}, s.total_seats,
            count(seat.id) filter (where seat.status = 'AVAILABLE') as available_seats
       from concert c
       left join schedule s on s.concert_id = c.id
       left join seat on seat.schedule_id = s.id
      where c.id = ?
      group by s.id
      order by s.starts_at, s.id`,
    [concertId],
  );
  if (rows.length === 0) throw domainError("CONCERT_NOT_FOUND", `Concert ${concertId} not found`, { concertId });
  return rows
    .filter((row): row is ScheduleRow & { available_seats: number } => row.id != null)
    .map((row) => ({ ...toScheduleView(row), availableSeats: Number(row.available_seats) }));
}

/**
 * The seats of a schedule in layout order (section by section, row by row, by number: the order
 * they were created in, so by id); 404 when the schedule does not exist.
 */
export async function getSeatMap(em: EntityManager, scheduleId: number): Promise<SeatView[]> {
  // Hand-written: the hottest uncached read (up to 10,000 rows), no entity hydration needed.
  const seats = await em.execute<Array<Omit<SeatView, "row"> & { row_label: string }>>(
    "select id, section, row_label, number, price, status from seat where schedule_id = ? order by id",
    [scheduleId],
  );
  // Every schedule has seats, so an empty answer means an unknown schedule (checked only then).
  if (seats.length === 0) await getSchedule(em, scheduleId);
  return seats.map(({ id, section, row_label, number, price, status }) => ({ id, section, row: row_label, number, price, status }));
}
