/**
 * Seat scenarios:
 *   seat-map    GET /api/schedules/:id/seats by ACTIVE users, one schedule (cache hit after the first
 *               read), paired with the bare server sending the same body from one Redis GET
 *   contention  2,000 ACTIVE users race for the 50 seats of one schedule, 40 per seat, each request
 *               once over 100 connections: exactly 50 win
 */
import { activeUsers, createBenchConcert, queueHeaders, type BenchUser } from "../fixtures";
import type { LoadLine } from "../load";
import type { InvariantOutcome } from "../report";
import type { Scenario, ScenarioContext } from "../scenario";
import type { RunMetrics } from "../stats";
import { pairedRuns } from "./baselines";

const SEAT_MAP_USERS = 500;

function fresh(users: readonly BenchUser[]): BenchUser[] {
  return users.map((u) => ({ ...u, queueTokens: new Map<number, string>() }));
}

export const seatMap: Scenario = {
  id: "seat-map",
  number: 3,
  title: `seat map, cache hit (GET /api/schedules/:id/seats, ${SEAT_MAP_USERS} ACTIVE users)`,
  ratioTo: "bare Redis GET",
  targets: [{ label: "≥ 0.5 of a bare server doing one Redis GET", metric: "ratio", op: ">=", value: 0.5 }],
  async run(ctx) {
    const users = fresh(ctx.users.slice(0, SEAT_MAP_USERS));
    const { concertId, schedules } = await createBenchConcert(ctx.orm, `Bench seat map ${ctx.nextTag()}`, 1);
    await activeUsers(ctx.client, users, concertId);
    const path = `/api/schedules/${schedules[0].id}/seats`;
    const first = await ctx.client.request("GET", path, { headers: queueHeaders(users[0], concertId) });
    // The bare server sends the very same body, read with one GET.
    const getName = `seatmap:${schedules[0].id}`;
    await ctx.redis.set(`${ctx.baselinePrefix}bare:${getName}`, JSON.stringify(first.body), "EX", 3600);
    const lines: LoadLine[] = users.map((u) => ({ method: "GET", path, headers: queueHeaders(u, concertId) }));
    const load = (durationS: number) => ctx.load({ url: ctx.apiUrl, mode: "cycle", lines, durationS });
    await load(ctx.options.warmupS);
    const runs = await pairedRuns(ctx, { kind: "get", getName }, () => load(ctx.options.durationS));
    const seats = Array.isArray(first.body) ? first.body.length : -1;
    return {
      runs,
      invariants: [{ name: "the seat map lists the schedule's 50 seats", pass: first.status === 200 && seats === 50, detail: `status ${first.status}, ${seats} seats` }],
    };
  },
};

const RACERS = 2000;

interface RaceCheck {
  held: number;
  seats: number;
  users: number;
}

async function raceInDatabase(ctx: ScenarioContext, scheduleId: number): Promise<RaceCheck> {
  const [row] = await ctx.orm.em.fork().execute<Array<{ held: number; seats: number; users: number }>>(
    `select count(distinct r.id)::int as held, count(distinct rs.seat_id)::int as seats, count(distinct r.user_id)::int as users
       from reservation r join reservation_seat rs on rs.reservation_id = r.id
      where r.schedule_id = ? and r.status in ('HELD', 'CONFIRMED')`,
    [scheduleId],
  );
  return row;
}

export const contention: Scenario = {
  id: "contention",
  number: 4,
  title: `reservation contention: ${RACERS} users, 50 seats of one schedule (POST /api/reservations)`,
  targets: [
    { label: "exactly 50 winners", metric: "extra.winners", op: "==", value: 50 },
    { label: "0 double-sold", metric: "extra.doubleSold", op: "==", value: 0 },
    { label: "p99 < 150 ms", metric: "p99", op: "<", value: 150 },
  ],
  async run(ctx) {
    const runs: RunMetrics[] = [];
    const invariants: InvariantOutcome[] = [];
    for (let i = 0; i < ctx.options.runs; i++) {
      const users = fresh(ctx.users.slice(0, RACERS));
      const { concertId, schedules } = await createBenchConcert(ctx.orm, `Bench race ${ctx.nextTag()}`, 1);
      const { id: scheduleId, seatIds } = schedules[0];
      await activeUsers(ctx.client, users, concertId);
      // Racer n wants seat n mod 50: 40 racers per seat, all at once over 100 connections.
      const lines: LoadLine[] = users.map((u, n) => ({
        method: "POST",
        path: "/api/reservations",
        headers: { ...queueHeaders(u, concertId), "content-type": "application/json" },
        body: JSON.stringify({ scheduleId, seatIds: [seatIds[n % seatIds.length]] }),
      }));
      const run = await ctx.load({ url: ctx.apiUrl, mode: "once", lines });
      const winners = run.statuses?.["201"] ?? 0;
      const db = await raceInDatabase(ctx, scheduleId);
      run.extra = { ...run.extra, winners, doubleSold: db.held - db.seats, heldInDb: db.held };
      runs.push(run);
      invariants.push({
        name: `race ${i + 1}: exactly 50 winners, one seat each, 50 distinct users`,
        pass: winners === 50 && db.held === 50 && db.seats === 50 && db.users === 50 && run.requests === RACERS,
        detail: `${run.requests}/${RACERS} answered, 201 answers ${winners}; database: ${db.held} live reservations, ${db.seats} seats, ${db.users} users`,
      });
    }
    return { runs, invariants };
  },
};
