/**
 * Database fixtures for points and payments tests: concerts with seats, HELD reservations written
 * directly in SQL (as the reservations service would leave them), and snapshots of the money side
 * of the database to compare before and after a request.
 */
import type { EntityManager } from "@mikro-orm/postgresql";
import { createConcert, createSchedule } from "../../modules/catalog/catalog-writes";
import type { LedgerEntryType } from "../../modules/points/models/ledger-entry";

export interface ConcertFixture {
  concertId: number;
  scheduleId: number;
  seatIds: number[];
}

export async function createConcertWithSeats(em: EntityManager, seatCount = 50, price = 1000): Promise<ConcertFixture> {
  const concertId = await createConcert(em, `Payments Test ${Date.now()}`, "Test Hall");
  const scheduleId = await createSchedule(em, concertId, new Date(Date.now() + 86_400_000), seatCount, () => price);
  const rows = await em.execute<Array<{ id: number }>>("select id from seat where schedule_id = ? order by number", [scheduleId]);
  return { concertId, scheduleId, seatIds: rows.map((r) => r.id) };
}

export interface HeldReservation {
  reservationId: number;
  amount: number;
  seatIds: number[];
}

/**
 * A reservation of `seatIds` for `userId`, its seats HELD. `holdSeconds` < 0 gives a hold that
 * expired that long ago (the sweeper has not run yet); `status` other than HELD gives a finished one.
 */
export async function insertReservation(
  em: EntityManager,
  fixture: ConcertFixture,
  userId: string,
  seatIds: number[],
  options: { holdSeconds?: number; status?: "HELD" | "CONFIRMED" | "CANCELLED" | "EXPIRED" } = {},
): Promise<HeldReservation> {
  const status = options.status ?? "HELD";
  const live = status === "HELD" || status === "CONFIRMED";
  return em.transactional(async (tx) => {
    const seats = await tx.execute<Array<{ id: number; number: number; price: number }>>(
      "select id, number, price from seat where id in (?) order by id for update",
      [seatIds],
    );
    const amount = seats.reduce((sum, seat) => sum + seat.price, 0);
    const [row] = await tx.execute<Array<{ id: number }>>(
      `insert into reservation (user_id, concert_id, schedule_id, status, amount, expires_at)
       values (?, ?, ?, ?, ?, now() + make_interval(secs => ?)) returning id`,
      [userId, fixture.concertId, fixture.scheduleId, status, amount, options.holdSeconds ?? 300],
    );
    for (const seat of seats) {
      await tx.execute("insert into reservation_seat (reservation_id, seat_id, number, price, live) values (?, ?, ?, ?, ?)", [
        row.id,
        seat.id,
        seat.number,
        seat.price,
        live,
      ]);
    }
    if (live) {
      await tx.execute("update seat set status = ? where id in (?)", [status === "HELD" ? "HELD" : "SOLD", seatIds]);
    }
    return { reservationId: row.id, amount, seatIds: seats.map((s) => s.id) };
  });
}

export interface LedgerRow {
  id: number;
  type: LedgerEntryType;
  amount: number;
  balanceAfter: number;
  idempotencyKey: string | null;
  paymentId: number | null;
}

export interface MoneySnapshot {
  balance: number | null;
  ledger: LedgerRow[];
  payments: Array<{ id: number; reservationId: number; amount: number; idempotencyKey: string }>;
  outbox: Array<{ eventId: string; topic: string; messageKey: string; payload: any }>;
}

/** Everything money-related of one user, to assert "nothing changed" or the exact change. */
export async function moneySnapshot(em: EntityManager, userId: string): Promise<MoneySnapshot> {
  const [wallet] = await em.execute<Array<{ balance: number }>>("select balance from wallet where user_id = ?", [userId]);
  const ledger = await em.execute<Array<any>>(
    "select id, type, amount, balance_after, idempotency_key, payment_id from ledger_entry where user_id = ? order by id",
    [userId],
  );
  const payments = await em.execute<Array<any>>(
    "select id, reservation_id, amount, idempotency_key from payment where user_id = ? order by id",
    [userId],
  );
  const outbox = await em.execute<Array<any>>(
    "select event_id, topic, message_key, payload from outbox_event where payload->>'userId' = ? order by id",
    [userId],
  );
  return {
    balance: wallet ? wallet.balance : null,
    ledger: ledger.map((r) => ({
      id: r.id,
      type: r.type,
      amount: r.amount,
      balanceAfter: r.balance_after,
      idempotencyKey: r.idempotency_key,
      paymentId: r.payment_id,
    })),
    payments: payments.map((r) => ({ id: r.id, reservationId: r.reservation_id, amount: r.amount, idempotencyKey: r.idempotency_key })),
    outbox: outbox.map((r) => ({ eventId: r.event_id, topic: r.topic, messageKey: r.message_key, payload: r.payload })),
  };
}

export async function reservationState(em: EntityManager, reservationId: number): Promise<{ status: string; seats: string[] }> {
  const [reservation] = await em.execute<Array<{ status: string }>>("select status from reservation where id = ?", [reservationId]);
  const seats = await em.execute<Array<{ status: string }>>(
    "select s.status from reservation_seat rs join seat s on s.id = rs.seat_id where rs.reservation_id = ? order by s.id",
    [reservationId],
  );
  return { status: reservation.status, seats: seats.map((s) => s.status) };
}
