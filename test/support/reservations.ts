/**
 * Helpers for the reservations tests: ACTIVE queue tokens for many users at once, an event
 * recorder, and the database checks of invariant 1 (no seat in two live reservations).
 */
import type { EntityManager } from "@mikro-orm/postgresql";
import type { Context, ServiceBroker, ServiceSchema } from "moleculer";
import type { OrmMethods } from "../../mixins/orm.mixin";

/** ACTIVE queue tokens for `userIds` (entered in parallel, then admitted by explicit rounds). */
export async function activeTokens(broker: ServiceBroker, userIds: string[], concertId: number): Promise<Map<string, string>> {
  const tokens = new Map<string, string>();
  for (let i = 0; i < userIds.length; i += 100) {
    const chunk = userIds.slice(i, i + 100);
    const entries = await Promise.all(
      chunk.map((userId) =>
        broker.call<{ token: string }, { concertId: number }>("queue.enter", { concertId }, { meta: { user: { id: userId } } }),
      ),
    );
    chunk.forEach((userId, j) => tokens.set(userId, entries[j].token));
  }
  let waiting = [...userIds];
  for (let round = 0; waiting.length > 0; round++) {
    if (round > 100) throw new Error(`${waiting.length} users were never admitted to concert ${concertId}`);
    await broker.call("queue.admitTick");
    const statuses = await Promise.all(
      waiting.map((userId) =>
        broker.call<{ status: string }, Record<string, never>>("queue.status", {}, {
          meta: { user: { id: userId }, queueToken: tokens.get(userId) },
        }),
      ),
    );
    waiting = waiting.filter((_, i) => statuses[i].status !== "ACTIVE");
  }
  return tokens;
}

export interface RecordedEvent {
  name: string;
  payload: any;
}

/** A test-only service that records the reservation events it receives (run it on one node). */
export function eventRecorder(events: RecordedEvent[]): ServiceSchema {
  const record = (name: string) => (ctx: Context) => {
    events.push({ name, payload: ctx.params });
  };
  return {
    name: "reservationEventRecorder",
    events: {
      "reservation.held": record("reservation.held"),
      "reservation.released": record("reservation.released"),
    },
  };
}

export function ormOf(broker: ServiceBroker, serviceName = "reservations"): EntityManager {
  return (broker.getLocalService(serviceName) as unknown as OrmMethods).em();
}

export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface BookingState {
  /** seat id -> status, for every seat of the schedule */
  seatStatus: Map<number, string>;
  /** seat id -> ids of the live reservations that contain it */
  liveHolders: Map<number, number[]>;
  liveReservations: Array<{ id: number; status: string; seatIds: number[] }>;
}

export async function bookingState(em: EntityManager, scheduleId: number): Promise<BookingState> {
  const seats = await em.execute<Array<{ id: number; status: string }>>(
    "select id, status from seat where schedule_id = ? order by id",
    [scheduleId],
  );
  const links = await em.execute<Array<{ reservation_id: number; seat_id: number; status: string }>>(
    `select rs.reservation_id, rs.seat_id, r.status from reservation_seat rs
     join reservation r on r.id = rs.reservation_id
     where r.schedule_id = ? and rs.live order by rs.reservation_id, rs.seat_id`,
    [scheduleId],
  );
  const liveHolders = new Map<number, number[]>();
  const byReservation = new Map<number, { id: number; status: string; seatIds: number[] }>();
  for (const link of links) {
    liveHolders.set(link.seat_id, [...(liveHolders.get(link.seat_id) ?? []), link.reservation_id]);
    const entry = byReservation.get(link.reservation_id) ?? { id: link.reservation_id, status: link.status, seatIds: [] };
    entry.seatIds.push(link.seat_id);
    byReservation.set(link.reservation_id, entry);
  }
  return {
    seatStatus: new Map(seats.map((seat) => [seat.id, seat.status])),
    liveHolders,
    liveReservations: [...byReservation.values()],
  };
}

/**
 * Invariant 1 in the database, plus the consistency the seat map relies on: no seat has two live
 * reservations, every live link belongs to a HELD/CONFIRMED reservation, a seat is HELD exactly
 * when a live HELD reservation has it, and AVAILABLE exactly when no live reservation has it.
 */
export function bookingProblems(state: BookingState): string[] {
  const problems: string[] = [];
  for (const [seatId, holders] of state.liveHolders) {
    if (holders.length > 1) problems.push(`seat ${seatId} is in live reservations ${holders.join(", ")}`);
  }
  for (const reservation of state.liveReservations) {
    if (reservation.status !== "HELD" && reservation.status !== "CONFIRMED") {
      problems.push(`reservation ${reservation.id} is ${reservation.status} but has live seats`);
    }
  }
  const heldBy = new Map<number, string>();
  for (const reservation of state.liveReservations) for (const seatId of reservation.seatIds) heldBy.set(seatId, reservation.status);
  for (const [seatId, status] of state.seatStatus) {
    const expected = heldBy.get(seatId) === "HELD" ? "HELD" : heldBy.get(seatId) === "CONFIRMED" ? "SOLD" : "AVAILABLE";
    if (status !== expected) problems.push(`seat ${seatId} is ${status}, its reservations say ${expected}`);
  }
  return problems;
}

/** What a broker call answered: the status it would have over HTTP and the body or error. */
export interface CallOutcome {
  code: number;
  type?: string;
  body?: any;
  data?: any;
}

export function outcomeOf(call: Promise<unknown>): Promise<CallOutcome> {
  return call.then(
    (body) => ({ code: 201, body }),
    (err: { code?: number; type?: string; data?: unknown }) => ({ code: err.code ?? 500, type: err.type ?? String(err), data: err.data }),
  );
}
