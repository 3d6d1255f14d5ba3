import type { EntityManager } from "@mikro-orm/postgresql";
import { domainError } from "../../lib/errors";
import type { SeatStatus } from "./models/seat";

export interface ConcertView {
  id: number;
  title: string;
  venue: string;
}

export async function listConcerts(em: EntityManager): Promise<ConcertView[]> {
  return em.execute<ConcertView[]>("select id, title, venue from concert order by id");
}

export async function getConcert(em: EntityManager, concertId: number): Promise<ConcertView> {
  const [concert] = await em.execute<ConcertView[]>("select id, title, venue from concert where id = ?", [concertId]);
  if (!concert) throw domainError("CONCERT_NOT_FOUND", `Concert ${concertId} not found`, { concertId });
  return concert;
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

/** starts_at as ISO-8601 UTC, formatted by PostgreSQL (the driver's date parsing is not ours to rely on). */
const STARTS_AT_ISO = `to_char(s.starts_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as starts_at`;

function toScheduleView(row: ScheduleRow): ScheduleView {
  return { id: row.id, concertId: row.concert_id, startsAt: row.starts_at, totalSeats: row.total_seats };
}

export async function getSchedule(em: EntityManager, scheduleId: number): Promise<ScheduleView> {
  const [row] = await em.execute<ScheduleRow[]>(
    `select s.id, s.concert_id, ${STARTS_AT_ISO}, s.total_seats from schedule s where s.id = ?`,
    [scheduleId],
  );
  if (!row) throw domainError("SCHEDULE_NOT_FOUND", `Schedule ${scheduleId} not found`, { scheduleId });
  return toScheduleView(row);
}

/**
 * Every schedule of a concert, earliest first, with how many seats are AVAILABLE, in one query
 * (the left joins from concert tell "no such concert" apart from "no schedules yet").
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

/** The seats of a schedule ordered by number; 404 when the schedule does not exist. */
export async function getSeatMap(em: EntityManager, scheduleId: number): Promise<SeatView[]> {
  const seats = await em.execute<SeatView[]>(
    "select id, number, price, status from seat where schedule_id = ? order by number",
    [scheduleId],
  );
  // Every schedule has seats, so an empty answer means an unknown schedule (checked only then).
  if (seats.length === 0) await getSchedule(em, scheduleId);
  return seats.map(({ id, number, price, status }) => ({ id, number, price, status }));
}
