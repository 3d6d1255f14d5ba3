/**
 * journey: the whole path of one virtual user, `connections` users at a time:
 *   enter the queue → poll until ACTIVE → read the seat map → hold a free seat (another one on a
 *   409) → pay → (asynchronously) the payment reaches the data-platform stand-in.
 * A sequence with a polling loop does not fit autocannon's fixed request lists, so this driver
 * uses keep-alive node:http directly; latencies are per request, as in the other scenarios.
 */
import { cpuDelta } from "../cpu";
import { awaitDelivery } from "../delivery";
import { chargeWallets, createBenchConcert, type BenchConcert, type BenchUser } from "../fixtures";
import { JsonClient, errorKey } from "../http-client";
import { sleep } from "../processes";
import type { InvariantOutcome } from "../report";
import type { PaymentMade, Scenario, ScenarioContext } from "../scenario";
import { summarizeLatencies, type RunMetrics } from "../stats";

const JOURNEYS = 600;
const SCHEDULES = 12; // 600 seats for 600 journeys
const POLL_MS = 50;
const MAX_SEAT_TRIES = 5;

interface Tally {
  latencies: number[];
  errors: Record<string, number>;
  journeysMs: number[];
  polls: number;
  failed: number;
  payments: PaymentMade[];
}

class JourneyError extends Error {}

async function journey(client: JsonClient, user: BenchUser, concert: BenchConcert, scheduleIndex: number, tag: number, t: Tally): Promise<void> {
  const started = performance.now();
  const call = async (method: string, path: string, headers: Record<string, string>, body?: unknown) => {
    const res = await client.request(method, path, { headers, body });
    t.latencies.push(res.ms);
    if (res.status >= 400) t.errors[errorKey(res.status, res.body)] = (t.errors[errorKey(res.status, res.body)] ?? 0) + 1;
    return res;
  };
  const auth = { authorization: user.authorization };
  const entry = await call("POST", `/api/concerts/${concert.concertId}/queue`, auth);
  if (entry.status !== 201 && entry.status !== 200) throw new JourneyError("enter");
  const headers = { ...auth, "x-queue-token": entry.body.token as string };
  let status = entry.body.status as string;
  while (status !== "ACTIVE") {
    await sleep(POLL_MS);
    t.polls++;
    const res = await call("GET", "/api/queue/me", headers);
    if (res.status !== 200 || res.body.status === "EXPIRED") throw new JourneyError("status");
    status = res.body.status;
  }
  const schedule = concert.schedules[scheduleIndex % concert.schedules.length];
  let reservationId: number | undefined;
  for (let attempt = 0; attempt < MAX_SEAT_TRIES && reservationId === undefined; attempt++) {
    const map = await call("GET", `/api/schedules/${schedule.id}/seats`, headers);
    if (map.status !== 200) throw new JourneyError("seat map");
    const free = (map.body as Array<{ id: number; status: string }>).filter((s) => s.status === "AVAILABLE");
    if (free.length === 0) throw new JourneyError("sold out");
    const seat = free[Math.floor(Math.random() * free.length)];
    const hold = await call("POST", "/api/reservations", headers, { scheduleId: schedule.id, seatIds: [seat.id] });
    if (hold.status === 201) reservationId = hold.body.id;
    else if (hold.status !== 409) throw new JourneyError("reserve");
  }
  if (reservationId === undefined) throw new JourneyError("no seat after retries");
  const pay = await call("POST", "/api/payments", { ...headers, "idempotency-key": `journey-${tag}-${reservationId}` }, { reservationId });
  if (pay.status !== 201) throw new JourneyError("pay");
  t.payments.push({ paymentId: pay.body.id, paidAt: pay.body.paidAt });
  t.journeysMs.push(performance.now() - started);
}

async function journeyRun(ctx: ScenarioContext): Promise<{ run: RunMetrics; delivered: number; payments: number }> {
  const tag = ctx.nextTag();
  const concert = await createBenchConcert(ctx.orm, `Bench journey ${tag}`, SCHEDULES);
  const users = ctx.users.slice(0, JOURNEYS).map((u) => ({ ...u, queueTokens: new Map<number, string>() }));
  await chargeWallets(ctx.client, users, 1_000_000, `journey${tag}`);
  const client = new JsonClient(ctx.apiUrl, ctx.options.connections);
  const t: Tally = { latencies: [], errors: {}, journeysMs: [], polls: 0, failed: 0, payments: [] };
  let next = 0;
  const cpuBefore = ctx.cpu.snapshot();
  const ownBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: ctx.options.connections }, async () => {
      while (next < users.length) {
        const index = next++;
        await journey(client, users[index], concert, index, tag, t).catch((err: Error) => {
          t.failed++;
          if (!(err instanceof JourneyError)) t.errors[`client ${err.message}`] = (t.errors[`client ${err.message}`] ?? 0) + 1;
        });
      }
    }),
  );
  const durationS = (performance.now() - started) / 1000;
  const own = process.cpuUsage(ownBefore);
  // This process is the generator here (keep-alive node:http).
  const cpuS = { ...cpuDelta(cpuBefore, ctx.cpu.snapshot()), generator: (own.user + own.system) / 1e6 };
  client.close();
  const delivery = await awaitDelivery(ctx.standinUrl, t.payments);
  const dp = summarizeLatencies(delivery.latenciesMs);
  const trips = summarizeLatencies(t.journeysMs);
  const run: RunMetrics = {
    requests: t.latencies.length,
    durationS,
    rps: t.latencies.length / durationS,
    latency: summarizeLatencies(t.latencies),
    errors: t.errors,
    cpuS,
    extra: {
      journeysPerS: t.journeysMs.length / durationS,
      completed: t.journeysMs.length,
      failed: t.failed,
      pollsPerJourney: t.polls / users.length,
      journeyP50Ms: trips.p50,
      journeyP99Ms: trips.p99,
      dpP50Ms: dp.p50,
      dpP95Ms: dp.p95,
      dpP99Ms: dp.p99,
    },
  };
  return { run, delivered: delivery.latenciesMs.length, payments: t.payments.length };
}

export const journeyScenario: Scenario = {
  id: "journey",
  number: 7,
  title: `whole journey × ${JOURNEYS}: enter → ACTIVE → seat map → reserve → pay → data platform`,
  targets: [
    { label: "payment → data platform p99 < 2 s", metric: "extra.dpP99Ms", op: "<", value: 2000 },
  ],
  async run(ctx) {
    const runs: RunMetrics[] = [];
    const invariants: InvariantOutcome[] = [];
    for (let i = 0; i < ctx.options.runs; i++) {
      const { run, delivered, payments } = await journeyRun(ctx);
      runs.push(run);
      invariants.push({
        name: `run ${i + 1}: every journey paid, every payment delivered`,
        pass: run.extra.completed === JOURNEYS && delivered === payments,
        detail: `${run.extra.completed}/${JOURNEYS} journeys, ${payments} payments, ${delivered} delivered`,
      });
    }
    return { runs, invariants };
  },
};
