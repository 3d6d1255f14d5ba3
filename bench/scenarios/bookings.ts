/**
 * Booking throughput without contention (issue 14 item 4): every request a different ACTIVE user
 * taking a different seat, each request once over `connections` connections.
 *   holds     POST /api/reservations
 *   hold-pay  POST /api/reservations, then POST /api/payments of that reservation as soon as the
 *             hold answers 201 (the former "spread" scenario, one seat per reservation); the
 *             payment → data platform latency is measured afterwards at the stand-in
 * Seats are spread over SCHEDULES schedules of one concert, interleaved so that concurrent
 * requests land on different schedules.
 */
import { awaitDelivery } from "../delivery";
import { activeUsers, chargeWallets, createBenchConcert, queueHeaders, type BenchConcert } from "../fixtures";
import type { LoadLine } from "../load";
import type { InvariantOutcome } from "../report";
import type { Scenario, ScenarioContext } from "../scenario";
import { summarizeLatencies, type RunMetrics } from "../stats";

const BOOKINGS = 3000;
const SCHEDULES = 10;
const WALLET_CHARGE = 1_000_000;

interface Prepared {
  concert: BenchConcert;
  lines: LoadLine[];
}

/** A concert with BOOKINGS seats, BOOKINGS distinct ACTIVE users (wallets charged if `pay`), one line each. */
async function prepare(ctx: ScenarioContext, what: string, pay: boolean): Promise<Prepared> {
  const tag = ctx.nextTag();
  const concert = await createBenchConcert(ctx.orm, `Bench ${what} ${tag}`, SCHEDULES, Math.ceil(BOOKINGS / SCHEDULES));
  const slots = concert.schedules
    .flatMap((schedule) => schedule.seatIds.map((seatId, k) => ({ k, scheduleId: schedule.id, seatId })))
    .sort((a, b) => a.k - b.k || a.scheduleId - b.scheduleId)
    .slice(0, BOOKINGS);
  const users = ctx.users.slice(0, slots.length).map((u) => ({ ...u, queueTokens: new Map<number, string>() }));
  await activeUsers(ctx.client, users, concert.concertId);
  if (pay) await chargeWallets(ctx.client, users, WALLET_CHARGE, `${what}${tag}`);
  const lines = slots.map((slot, i) => ({
    method: "POST",
    path: "/api/reservations",
    headers: { ...queueHeaders(users[i], concert.concertId), "content-type": "application/json" },
    body: JSON.stringify({ scheduleId: slot.scheduleId, seatIds: [slot.seatId] }),
    key: String(slot.seatId),
  }));
  return { concert, lines };
}

export const holds: Scenario = {
  id: "holds",
  number: 5,
  title: `holds, ${BOOKINGS} distinct users and seats, no contention (POST /api/reservations)`,
  targets: [],
  async run(ctx) {
    const runs: RunMetrics[] = [];
    const invariants: InvariantOutcome[] = [];
    for (let i = 0; i < ctx.options.runs; i++) {
      const { lines } = await prepare(ctx, "holds", false);
      const run = await ctx.load({ url: ctx.apiUrl, mode: "once", lines });
      const held = run.statuses?.["201"] ?? 0;
      run.extra = { ...run.extra, held, holdsPerS: held / run.durationS };
      runs.push(run);
      invariants.push({
        name: `run ${i + 1}: every hold answered 201`,
        pass: held === lines.length,
        detail: `${lines.length} holds, ${run.requests} answered, ${held} held`,
      });
    }
    return { runs, invariants };
  },
};

/** Payments of the concert's reservations, as the delivery check wants them. */
async function paymentsOf(ctx: ScenarioContext, concertId: number): Promise<Array<{ paymentId: number; paidAt: string }>> {
  const rows = await ctx.orm.em.fork().execute<Array<{ id: number; paid_at: Date | string }>>(
    "select p.id, p.paid_at from payment p join reservation r on r.id = p.reservation_id where r.concert_id = ?",
    [concertId],
  );
  return rows.map((r) => ({ paymentId: Number(r.id), paidAt: new Date(r.paid_at).toISOString() }));
}

export const holdPay: Scenario = {
  id: "hold-pay",
  number: 6,
  title: `hold + pay, ${BOOKINGS} distinct users and seats (POST /api/reservations → POST /api/payments)`,
  targets: [
    { label: "≥ 500 completed payments/s", metric: "extra.paymentsPerS", op: ">=", value: 500 },
    { label: "p99 < 200 ms (holds and payments)", metric: "p99", op: "<", value: 200 },
    { label: "payment → data platform p99 < 2 s", metric: "extra.dpP99Ms", op: "<", value: 2000 },
  ],
  async run(ctx) {
    const runs: RunMetrics[] = [];
    const invariants: InvariantOutcome[] = [];
    for (let i = 0; i < ctx.options.runs; i++) {
      const { concert, lines } = await prepare(ctx, "holdpay", true);
      const run = await ctx.load({ url: ctx.apiUrl, mode: "hold-pay", lines, tag: `${ctx.env.runId}-${ctx.nextTag()}` });
      const made = await paymentsOf(ctx, concert.concertId);
      const delivery = await awaitDelivery(ctx.standinUrl, made);
      const dp = summarizeLatencies(delivery.latenciesMs);
      const { held = 0, paid = 0 } = run.extra;
      run.extra = { ...run.extra, paymentsPerS: paid / run.durationS, dpP50Ms: dp.p50, dpP95Ms: dp.p95, dpP99Ms: dp.p99 };
      runs.push(run);
      invariants.push({
        name: `run ${i + 1}: every reservation held and paid, every payment delivered`,
        pass: held === lines.length && paid === lines.length && made.length === lines.length && delivery.missing === 0,
        detail: `${lines.length} bookings, ${held} held, ${paid} paid (${made.length} in the database), ${delivery.missing} not delivered`,
      });
    }
    return { runs, invariants };
  },
};
