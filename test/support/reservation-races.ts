/**
 * The concurrency scenarios of issue 5, shared by the test files that run them with the Redis lock
 * on and off: two broker nodes each running the reservations service, many users at once, and the
 * database checked afterwards (invariant 1), not only the answers.
 */
import type { ServiceBroker } from "moleculer";
import type Redis from "ioredis";
import CatalogService from "../../services/catalog.service";
import QueueService from "../../services/queue.service";
import ReservationsService from "../../services/reservations.service";
import { getConfig } from "../../lib/config";
import { createConcert, createSchedule } from "../../modules/catalog/catalog-writes";
import { startNode, stopNodes } from "./nodes";
import {
  activeTokens,
  bookingProblems,
  bookingState,
  eventRecorder,
  ormOf,
  outcomeOf,
  waitFor,
  type CallOutcome,
  type RecordedEvent,
} from "./reservations";

const USERS = 500;

export function describeReservationRaces(label: string, redisLockExpected: boolean): void {
  describe(`reservation races over two nodes (${label})`, () => {
    let n1: ServiceBroker;
    let n2: ServiceBroker;
    let concertId: number;
    let tokens: Map<string, string>;
    const users = Array.from({ length: USERS }, (_, i) => `racer_${i}`);
    const events: RecordedEvent[] = [];

    beforeAll(async () => {
      n1 = await startNode([CatalogService, QueueService, ReservationsService, eventRecorder(events)], { nodeID: "race-n1" });
      n2 = await startNode([ReservationsService], { nodeID: "race-n2" });
      await n1.waitForServices(["reservations", "queue", "catalog"]);
      await n2.waitForServices(["reservations", "queue", "catalog"]);
      concertId = await createConcert(ormOf(n1), `Race concert (${label})`, "Race Hall");
      tokens = await activeTokens(n1, users, concertId);
    });
    afterAll(() => stopNodes(n1, n2));

    async function newSchedule(seats: number): Promise<{ scheduleId: number; seatIds: number[] }> {
      const em = ormOf(n1);
      const scheduleId = await createSchedule(em, concertId, new Date("2030-01-01T19:00:00Z"), seats);
      const rows = await em.execute<Array<{ id: number }>>("select id from seat where schedule_id = ? order by number", [scheduleId]);
      return { scheduleId, seatIds: rows.map((row) => row.id) };
    }

    /** reservations.create for `user`, on node n1 or n2 by parity of `i` (each prefers its local service). */
    function reserve(i: number, user: string, scheduleId: number, seatIds: number[]): Promise<CallOutcome> {
      const node = i % 2 === 0 ? n1 : n2;
      return outcomeOf(
        node.call("reservations.create", { scheduleId, seatIds }, { meta: { user: { id: user }, queueToken: tokens.get(user) } }),
      );
    }

    it(`gives one seat to exactly one of ${USERS} concurrent users`, async () => {
      const { scheduleId, seatIds } = await newSchedule(5);
      const seat = seatIds[2];
      const outcomes = await Promise.all(users.map((user, i) => reserve(i, user, scheduleId, [seat])));

      const won = outcomes.filter((o) => o.code === 201);
      expect(won).toHaveLength(1);
      expect(outcomes.filter((o) => o.code === 409 && o.type === "SEAT_UNAVAILABLE")).toHaveLength(USERS - 1);
      expect(won[0].body).toMatchObject({ status: "HELD", scheduleId, concertId, seats: [{ id: seat }] });

      const em = ormOf(n2);
      const state = await bookingState(em, scheduleId);
      expect(bookingProblems(state)).toEqual([]);
      expect(state.liveReservations).toEqual([{ id: won[0].body.id, status: "HELD", seatIds: [seat] }]);
      const [{ count }] = await em.execute<Array<{ count: number }>>(
        "select count(*)::int as count from reservation where schedule_id = ?",
        [scheduleId],
      );
      expect(count).toBe(1);
      expect([...state.seatStatus.values()].filter((status) => status !== "AVAILABLE")).toEqual(["HELD"]);
      await waitFor(() => events.some((e) => e.name === "reservation.held" && e.payload.reservationId === won[0].body.id), "held event");
      expect(events.filter((e) => e.name === "reservation.held" && e.payload.scheduleId === scheduleId)).toHaveLength(1);
    });

    it("never puts a seat into two live reservations under overlapping multi-seat requests and cancels", async () => {
      const seatCount = 12;
      const { scheduleId, seatIds } = await newSchedule(seatCount);
      // Rings of overlapping sets: {1,2},{2,3},…,{12,1}, then triples and quads that cross them.
      const shapes = [[0, 1], [0, 2, 5], [0, 1, 3, 7], [0, 4]];
      const requests = Array.from({ length: 240 }, (_, i) => {
        const start = i % seatCount;
        const shape = shapes[Math.floor(i / seatCount) % shapes.length];
        return [...new Set(shape.map((offset) => seatIds[(start + offset) % seatCount]))];
      });

      const firstWave = await Promise.all(requests.map((seats, i) => reserve(i, users[i], scheduleId, seats)));
      expect(firstWave.filter((o) => o.code !== 201 && !(o.code === 409 && o.type === "SEAT_UNAVAILABLE"))).toEqual([]);
      const held = firstWave.filter((o) => o.code === 201).map((o) => o.body);
      const holderOf = new Map(firstWave.flatMap((o, i) => (o.code === 201 ? [[o.body.id as number, users[i]] as const] : [])));
      expect(held.length).toBeGreaterThan(0);
      const granted = held.flatMap((r) => r.seats.map((s: { id: number }) => s.id));
      expect(new Set(granted).size).toBe(granted.length);

      let state = await bookingState(ormOf(n1), scheduleId);
      expect(bookingProblems(state)).toEqual([]);
      expect(state.liveReservations.map((r) => r.id).sort((a, b) => a - b)).toEqual(held.map((r) => r.id).sort((a, b) => a - b));

      // Second wave: the holders cancel while other users grab the same seats.
      const cancels = held.map((r, i) =>
        outcomeOf((i % 2 === 0 ? n1 : n2).call("reservations.cancel", { id: r.id }, { meta: { user: { id: holderOf.get(r.id) } } })),
      );
      const secondWave = requests.map((seats, i) => reserve(i + 1, users[USERS - 1 - i], scheduleId, seats));
      const [cancelled, regrabbed] = await Promise.all([Promise.all(cancels), Promise.all(secondWave)]);
      expect(cancelled.filter((o) => o.code !== 201 || o.body.status !== "CANCELLED")).toEqual([]);
      expect(regrabbed.filter((o) => o.code !== 201 && !(o.code === 409 && o.type === "SEAT_UNAVAILABLE"))).toEqual([]);
      const regranted = regrabbed.filter((o) => o.code === 201).flatMap((o) => o.body.seats.map((s: { id: number }) => s.id));
      expect(new Set(regranted).size).toBe(regranted.length);

      state = await bookingState(ormOf(n2), scheduleId);
      expect(bookingProblems(state)).toEqual([]);
      expect(state.liveReservations.map((r) => r.id).sort((a, b) => a - b)).toEqual(
        regrabbed.filter((o) => o.code === 201).map((o) => o.body.id).sort((a, b) => a - b),
      );
    });

    it(redisLockExpected ? "refuses a seat whose Redis lock someone holds" : "ignores Redis locks when RESERVATION_REDLOCK=false", async () => {
      const { scheduleId, seatIds } = await newSchedule(2);
      const redis = (n1.getLocalService("reservations") as unknown as { redis: Redis }).redis;
      const lockKey = `${getConfig().redisPrefix}lock:{s${scheduleId}}:seat:${seatIds[0]}`; // what reservations.create locks
      await redis.set(lockKey, "held-by-another-node", "PX", 30_000);
      try {
        const outcome = await reserve(0, users[0], scheduleId, [seatIds[0]]);
        if (redisLockExpected) {
          expect(outcome).toMatchObject({ code: 409, type: "SEAT_UNAVAILABLE", data: { seatIds: [seatIds[0]] } });
          expect((await bookingState(ormOf(n1), scheduleId)).liveReservations).toEqual([]);
        } else {
          expect(outcome.code).toBe(201);
          expect((await bookingState(ormOf(n1), scheduleId)).liveReservations).toHaveLength(1);
        }
        expect(await redis.get(lockKey)).toBe("held-by-another-node");
      } finally {
        await redis.del(lockKey);
      }
    });
  });
}
