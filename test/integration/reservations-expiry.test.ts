/**
 * Holds that run out (RESERVATION_HOLD_S=1): read as EXPIRED at once, released by sweepers on two
 * nodes exactly once (SKIP LOCKED), by the periodic sweeper on its own, and never cancellable again.
 */
import type { ServiceBroker } from "moleculer";
import { resetConfig } from "../../lib/config";
import CatalogService from "../../services/catalog.service";
import QueueService from "../../services/queue.service";
import ReservationsService from "../../services/reservations.service";
import { createConcert, createSchedule } from "../../modules/catalog/catalog-writes";
import { startNode, stopNodes } from "../support/nodes";
import {
  activeTokens,
  bookingProblems,
  bookingState,
  eventRecorder,
  ormOf,
  outcomeOf,
  waitFor,
  type RecordedEvent,
} from "../support/reservations";

// Short holds; the periodic sweepers of n1/n2 stay out of the way so the tests drive sweeps.
process.env.RESERVATION_HOLD_S = "1";
process.env.RESERVATION_SWEEP_S = "3600";
resetConfig();

describe("expiring holds", () => {
  let n1: ServiceBroker;
  let n2: ServiceBroker;
  let concertId: number;
  let tokens: Map<string, string>;
  const users = Array.from({ length: 40 }, (_, i) => `sleeper_${i}`);
  const events: RecordedEvent[] = [];

  const meta = (user: string) => ({ meta: { user: { id: user }, queueToken: tokens.get(user) } });
  const released = (id: number) => events.filter((e) => e.name === "reservation.released" && e.payload.reservationId === id);

  async function newSchedule(seats: number) {
    const em = ormOf(n1);
    const scheduleId = await createSchedule(em, concertId, new Date("2030-03-01T19:00:00Z"), seats);
    const rows = await em.execute<Array<{ id: number }>>("select id from seat where schedule_id = ? order by number", [scheduleId]);
    return { scheduleId, seatIds: rows.map((row) => row.id) };
  }

  /** Waits until the database clock has passed every HELD hold's expiry in the schedule. */
  async function holdsLapsed(scheduleId: number) {
    await waitFor(async () => {
      const [row] = await ormOf(n1).execute<Array<{ pending: number }>>(
        "select count(*)::int as pending from reservation where schedule_id = ? and status = 'HELD' and expires_at > now()",
        [scheduleId],
      );
      return row.pending === 0;
    }, "holds to lapse");
  }

  async function statusesOf(scheduleId: number) {
    return ormOf(n1).execute<Array<{ id: number; status: string }>>("select id, status from reservation where schedule_id = ? order by id", [
      scheduleId,
    ]);
  }

  beforeAll(async () => {
    n1 = await startNode([CatalogService, QueueService, ReservationsService, eventRecorder(events)], { nodeID: "expiry-n1" });
    n2 = await startNode([ReservationsService], { nodeID: "expiry-n2" });
    await n2.waitForServices(["queue", "catalog"]);
    concertId = await createConcert(ormOf(n1), "Expiry concert", "Hall E");
    tokens = await activeTokens(n1, users, concertId);
  });
  afterAll(() => stopNodes(n1, n2));

  it("reads a lapsed hold as EXPIRED, refuses to cancel it, and frees its seats on that cancel", async () => {
    const { scheduleId, seatIds } = await newSchedule(3);
    const hold = await n1.call<any, any>("reservations.create", { scheduleId, seatIds: [seatIds[0], seatIds[1]] }, meta(users[0]));
    expect(hold.status).toBe("HELD");
    await holdsLapsed(scheduleId);

    // Not swept yet: the row still says HELD, readers see EXPIRED.
    expect(await statusesOf(scheduleId)).toEqual([{ id: hold.id, status: "HELD" }]);
    await expect(n2.call("reservations.get", { id: hold.id }, meta(users[0]))).resolves.toMatchObject({ id: hold.id, status: "EXPIRED" });

    await expect(n2.call("reservations.cancel", { id: hold.id }, meta(users[0]))).rejects.toMatchObject({
      code: 409,
      type: "RESERVATION_NOT_HELD",
      data: { reservationId: hold.id, status: "EXPIRED" },
    });
    expect(await statusesOf(scheduleId)).toEqual([{ id: hold.id, status: "EXPIRED" }]);
    const state = await bookingState(ormOf(n1), scheduleId);
    expect(bookingProblems(state)).toEqual([]);
    expect([...state.seatStatus.values()]).toEqual(["AVAILABLE", "AVAILABLE", "AVAILABLE"]);
    await waitFor(() => released(hold.id).length > 0, "reservation.released");
    expect(released(hold.id).map((e) => e.payload)).toEqual([
      { reservationId: hold.id, userId: users[0], concertId, scheduleId, seatIds: [seatIds[0], seatIds[1]], reason: "EXPIRED" },
    ]);

    // Expired stays expired: no second cancel, no second release, and the sweeper finds nothing.
    await expect(n1.call("reservations.cancel", { id: hold.id }, meta(users[0]))).rejects.toMatchObject({ code: 409 });
    await expect(n1.call("reservations.sweepExpired")).resolves.toEqual({ expired: [] });
    expect(released(hold.id)).toHaveLength(1);

    // The seats come back: someone else can hold them.
    await expect(n2.call("reservations.create", { scheduleId, seatIds: [seatIds[1]] }, meta(users[1]))).resolves.toMatchObject({
      status: "HELD",
    });
  });

  it("releases every lapsed hold exactly once when sweepers and cancels race on two nodes", async () => {
    const { scheduleId, seatIds } = await newSchedule(30);
    const holders = users.slice(2, 32);
    const holds = await Promise.all(
      holders.map((user, i) => (i % 2 ? n1 : n2).call<any, any>("reservations.create", { scheduleId, seatIds: [seatIds[i]] }, meta(user))),
    );
    await holdsLapsed(scheduleId);

    const sweeps = Array.from({ length: 6 }, (_, i) => (i % 2 ? n1 : n2).call<{ expired: number[] }>("reservations.sweepExpired"));
    const cancels = holds.slice(0, 10).map((hold, i) => outcomeOf((i % 2 ? n2 : n1).call("reservations.cancel", { id: hold.id }, meta(holders[i]))));
    const [swept, cancelled] = await Promise.all([Promise.all(sweeps), Promise.all(cancels)]);

    expect(cancelled.map((o) => [o.code, o.type])).toEqual(Array(10).fill([409, "RESERVATION_NOT_HELD"]));
    // No hold swept twice; a hold no sweep took must have been expired by its owner's cancel.
    const sweptIds = swept.flatMap((result) => result.expired);
    expect(new Set(sweptIds).size).toBe(sweptIds.length);
    const cancelledIds = new Set(holds.slice(0, 10).map((hold) => hold.id));
    expect(holds.filter((hold) => !sweptIds.includes(hold.id) && !cancelledIds.has(hold.id))).toEqual([]);

    expect((await statusesOf(scheduleId)).map((row) => row.status)).toEqual(Array(30).fill("EXPIRED"));
    const state = await bookingState(ormOf(n2), scheduleId);
    expect(bookingProblems(state)).toEqual([]);
    expect(state.liveReservations).toEqual([]);
    expect([...state.seatStatus.values()].every((status) => status === "AVAILABLE")).toBe(true);

    await waitFor(() => holds.every((hold) => released(hold.id).length > 0), "a release event per hold");
    await new Promise((resolve) => setTimeout(resolve, 200)); // a duplicate would arrive by now
    for (const hold of holds) {
      expect(released(hold.id).map((e) => e.payload.reason)).toEqual(["EXPIRED"]);
    }
  });

  it("sweeps lapsed holds on its own every RESERVATION_SWEEP_S", async () => {
    process.env.RESERVATION_SWEEP_S = "1";
    resetConfig();
    const n3 = await startNode([ReservationsService], { nodeID: "expiry-n3" });
    process.env.RESERVATION_SWEEP_S = "3600";
    resetConfig();
    try {
      const { scheduleId, seatIds } = await newSchedule(2);
      const hold = await n3.call<any, any>("reservations.create", { scheduleId, seatIds: [seatIds[0]] }, meta(users[35]));
      await waitFor(async () => (await statusesOf(scheduleId))[0].status === "EXPIRED", "the periodic sweeper", 10_000);
      const state = await bookingState(ormOf(n3), scheduleId);
      expect(bookingProblems(state)).toEqual([]);
      expect(state.seatStatus.get(seatIds[0])).toBe("AVAILABLE");
      await waitFor(() => released(hold.id).length === 1, "reservation.released");
      expect(released(hold.id)[0].payload.reason).toBe("EXPIRED");
    } finally {
      await stopNodes(n3);
    }
  });
});
