import type { EntityManager } from "@mikro-orm/postgresql";
import { seatPrice } from "./seat-pricing";

export const DEFAULT_SEATS_PER_SCHEDULE = 50;

export async function createConcert(em: EntityManager, title: string, venue: string): Promise<number> {
  const [row] = await em.execute<Array<{ id: number }>>("insert into concert (title, venue) values (?, ?) returning id", [title, venue]);
  return row.id;
}

/** A schedule with seats numbered 1..seatCount, all AVAILABLE. */
export async function createSchedule(
  em: EntityManager,
  concertId: number,
  startsAt: Date,
  seatCount = DEFAULT_SEATS_PER_SCHEDULE,
  priceOf: (seatNumber: number) => number = seatPrice,
): Promise<number> {
  return em.transactional(async (tx) => {
    const [row] = await tx.execute<Array<{ id: number }>>(
      "insert into schedule (concert_id, starts_at, total_seats) values (?, ?, ?) returning id",
      [concertId, startsAt, seatCount],
    );
    const numbers = Array.from({ length: seatCount }, (_, i) => i + 1);
    await tx.execute(
      `insert into seat (schedule_id, number, price, status) values ${numbers.map(() => "(?, ?, ?, 'AVAILABLE')").join(", ")}`,
      numbers.flatMap((n) => [row.id, n, priceOf(n)]),
    );
    return row.id;
  });
}
