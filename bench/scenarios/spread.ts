/**
 * spread: reservations + payments spread over many schedules (2 concerts × 10 schedules × 50
 * seats per run, 2 seats per reservation, no two users on the same seats). Each connection loops
 * reserve → pay; the payment → data platform latency is measured afterwards at the stand-in.
 */
import { awaitDelivery } from "../delivery";
import { activeUsers, chargeWallets, createBenchConcert, queueHeaders, type BenchUser } from "../fixtures";
import { runLoad, type LoadRequest } from "../load";
import type { InvariantOutcome } from "../report";
import type { PaymentMade, Scenario, ScenarioContext } from "../scenario";
import { summarizeLatencies, type RunMetrics } from "../stats";

const CONCERTS = 2;
const SCHEDULES_PER_CONCERT = 10;
const SEATS_PER_RESERVATION = 2;
const WALLET_CHARGE = 1_000_000;

interface Job {
  concertId: number;
  body: string;
  headers: Record<string, string>;
}

/** One reservation per user: the seats of all schedules cut into pairs, users assigned in order. */
async function prepareJobs(ctx: ScenarioContext, tag: number): Promise<Job[]> {
  const concerts = [];
  for (let c = 0; c < CONCERTS; c++) concerts.push(await createBenchConcert(ctx.orm, `Bench spread ${tag}.${c}`, SCHEDULES_PER_CONCERT));
  const slots = concerts.flatMap((concert) =>
    concert.schedules.flatMap((schedule) =>
      Array.from({ length: Math.floor(schedule.seatIds.length / SEATS_PER_RESERVATION) }, (_, k) => ({
        k,
        concertId: concert.concertId,
        scheduleId: schedule.id,
        seatIds: schedule.seatIds.slice(k * SEATS_PER_RESERVATION, (k + 1) * SEATS_PER_RESERVATION),
      })),
    ),
  );
  // Interleave schedules so concurrent requests land on different schedules.
  slots.sort((a, b) => a.k - b.k || a.scheduleId - b.scheduleId);
  // Every connection loops reserve → pay over the same number of jobs (autocannon splits `amount`
  // evenly), so the job count is a multiple of the connections.
  slots.length -= slots.length % ctx.options.connections;
  if (slots.length === 0) throw new Error(`spread needs at most ${CONCERTS * SCHEDULES_PER_CONCERT * 25} connections`);
  const users: BenchUser[] = ctx.users.slice(0, slots.length).map((u) => ({ ...u, queueTokens: new Map<number, string>() }));
  for (const concert of concerts) {
    const own = users.filter((_, i) => slots[i].concertId === concert.concertId);
    if (own.length) await activeUsers(ctx.client, own, concert.concertId);
  }
  await chargeWallets(ctx.client, users, WALLET_CHARGE, `spread${tag}`);
  return slots.map((slot, i) => ({
    concertId: slot.concertId,
    body: JSON.stringify({ scheduleId: slot.scheduleId, seatIds: slot.seatIds }),
    headers: { ...queueHeaders(users[i], slot.concertId), "content-type": "application/json" },
  }));
}

function reservePayRequests(jobs: readonly Job[], tag: number, made: PaymentMade[], counts: { held: number }): LoadRequest[] {
  let next = 0;
  return [
    {
      method: "POST",
      path: "/api/reservations",
      setupRequest(request, context) {
        const job = jobs[next++ % jobs.length];
        context.job = job;
        request.headers = { ...request.headers, ...job.headers };
        request.body = job.body;
        return request;
      },
      onResponse(status, body, context) {
        if (status === 201) {
          counts.held++;
          context.reservationId = (JSON.parse(body) as { id: number }).id;
        }
      },
    },
    {
      method: "POST",
      path: "/api/payments",
      setupRequest(request, context) {
        if (!context.reservationId) return null; // the hold failed: start over with the next job
        const job = context.job as Job;
        request.headers = { ...request.headers, ...job.headers, "idempotency-key": `bench-pay-${tag}-${context.reservationId}` };
        request.body = JSON.stringify({ reservationId: context.reservationId });
        return request;
      },
      onResponse(status, body) {
        if (status === 201) {
          const payment = JSON.parse(body) as { id: number; paidAt: string };
          made.push({ paymentId: payment.id, paidAt: payment.paidAt });
        }
      },
    },
  ];
}

export const spread: Scenario = {
  id: "spread",
  number: 5,
  title: `reservations + payments over ${CONCERTS * SCHEDULES_PER_CONCERT} schedules (POST /api/reservations → POST /api/payments)`,
  targets: [{ label: "payment → data platform p99 < 2 s", metric: "extra.dpP99Ms", op: "<", value: 2000 }],
  async run(ctx) {
    const runs: RunMetrics[] = [];
    const invariants: InvariantOutcome[] = [];
    for (let i = 0; i < ctx.options.runs; i++) {
      const tag = ctx.nextTag();
      const jobs = await prepareJobs(ctx, tag);
      const made: PaymentMade[] = [];
      const counts = { held: 0 };
      const run = await runLoad({ url: ctx.apiUrl, connections: ctx.options.connections, amount: jobs.length * 2, requests: reservePayRequests(jobs, tag, made, counts) });
      const delivery = await awaitDelivery(ctx.standinUrl, made);
      const dp = summarizeLatencies(delivery.latenciesMs);
      run.extra = { held: counts.held, paid: made.length, dpP50Ms: dp.p50, dpP95Ms: dp.p95, dpP99Ms: dp.p99 };
      runs.push(run);
      invariants.push({
        name: `run ${i + 1}: every reservation held and paid, every payment delivered`,
        pass: counts.held === jobs.length && made.length === jobs.length && delivery.missing === 0,
        detail: `${jobs.length} jobs, ${counts.held} held, ${made.length} paid, ${delivery.missing} not delivered`,
      });
    }
    return { runs, invariants };
  },
};
