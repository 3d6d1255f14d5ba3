/**
 * Queue scenarios and the baseline they are compared with:
 *   baseline     POST /api/concerts/:id/queue on the bare node:http + ioredis server
 *   queue-entry  the same request on the system: distinct users, one fresh concert per run
 *   queue-status GET /api/queue/me of queued users (with the bare server's figure beside it)
 */
import { createBenchConcert, enterQueue, type BenchUser } from "../fixtures";
import { JsonClient } from "../http-client";
import { runLoad, type LoadRequest } from "../load";
import type { InvariantOutcome } from "../report";
import type { Scenario, ScenarioContext } from "../scenario";
import { median, type RunMetrics } from "../stats";
import { queueKeys } from "../../modules/queue/queue-keys";

/** Entry requests rotating over the user pool; counts created (201) and repeated (200) entries. */
function entryRequests(users: readonly BenchUser[], concertId: number, counts: { created: number; repeated: number }): LoadRequest[] {
  let next = 0;
  return [
    {
      method: "POST",
      path: `/api/concerts/${concertId}/queue`,
      setupRequest(request) {
        const user = users[next++ % users.length];
        request.headers = { ...request.headers, authorization: user.authorization };
        return request;
      },
      onResponse(status) {
        if (status === 201) counts.created++;
        else if (status === 200) counts.repeated++;
      },
    },
  ];
}

async function entryRun(ctx: ScenarioContext, url: string, concertId: number, durationS: number): Promise<RunMetrics> {
  const counts = { created: 0, repeated: 0 };
  const metrics = await runLoad({ url, connections: ctx.options.connections, durationS, requests: entryRequests(ctx.users, concertId, counts) });
  metrics.extra = { created: counts.created, repeatedUsers: counts.repeated };
  return metrics;
}

/** The bare server's queue-entry runs; their median req/s is what the ratios divide by. */
export async function baselineEntry(ctx: ScenarioContext): Promise<RunMetrics[]> {
  await entryRun(ctx, ctx.baselineUrl, 1_000_000 + ctx.nextTag(), ctx.options.warmupS);
  const runs: RunMetrics[] = [];
  for (let i = 1; i <= ctx.options.runs; i++) runs.push(await pairedBaselineRps(ctx).then((r) => r.run));
  return runs;
}

/**
 * One more baseline run, right before a scenario run: the pair sees the same background load, so
 * run ÷ its own baseline cancels noise that comes and goes during a benchmark (other processes on
 * a 2-core machine). Scenarios with a ratio target record `pairedRatio` per run.
 */
export async function pairedBaselineRps(ctx: ScenarioContext): Promise<{ run: RunMetrics; rps: number }> {
  // The bare server does not check concerts: any id not used before is a fresh queue.
  const run = await entryRun(ctx, ctx.baselineUrl, 1_000_000 + ctx.nextTag(), ctx.options.durationS);
  return { run, rps: run.rps };
}

async function waitingPlusActive(ctx: ScenarioContext, concertId: number): Promise<number> {
  const k = queueKeys(ctx.env.redisPrefix, concertId);
  const [waiting, active] = await Promise.all([ctx.redis.zcard(k.waiting), ctx.redis.zcard(k.active)]);
  return waiting + active;
}

export const queueEntry: Scenario = {
  id: "queue-entry",
  number: 1,
  title: "queue entry, distinct users (POST /api/concerts/:id/queue)",
  targets: [
    { label: "≥ 60% of baseline req/s", metric: "ratio", op: ">=", value: 0.6 },
    { label: "p99 < 50 ms", metric: "p99", op: "<", value: 50 },
  ],
  async run(ctx) {
    const fresh = async () => (await createBenchConcert(ctx.orm, `Bench entry ${ctx.nextTag()}`, 1, 1)).concertId;
    await entryRun(ctx, ctx.apiUrl, await fresh(), ctx.options.warmupS);
    const runs: RunMetrics[] = [];
    const invariants: InvariantOutcome[] = [];
    for (let i = 0; i < ctx.options.runs; i++) {
      const concertId = await fresh();
      const bare = await pairedBaselineRps(ctx);
      const run = await entryRun(ctx, ctx.apiUrl, concertId, ctx.options.durationS);
      run.extra.pairedBaselineRps = bare.rps;
      run.extra.pairedRatio = run.rps / bare.rps;
      runs.push(run);
      // Every 201 is one place in the queue (nobody leaves or pays here); requests still in flight
      // when the run stopped (at most one per connection) created places without a counted 201.
      const places = await waitingPlusActive(ctx, concertId);
      const created = run.extra.created;
      invariants.push({
        name: `run ${i + 1}: each created entry holds one queue place`,
        pass: places >= created && places <= created + ctx.options.connections,
        detail: `201 answers ${created}, waiting+active ${places} (≤ ${ctx.options.connections} in flight at the end)`,
      });
    }
    return { runs, invariants };
  },
};

const STATUS_USERS = 2000;

function statusRequests(users: readonly BenchUser[], concertId: number): LoadRequest[] {
  const headers = users.map((u) => ({ authorization: u.authorization, "x-queue-token": u.queueTokens.get(concertId) ?? "" }));
  let next = 0;
  return [
    {
      method: "GET",
      path: "/api/queue/me",
      setupRequest(request) {
        request.headers = { ...request.headers, ...headers[next++ % headers.length] };
        return request;
      },
    },
  ];
}

export const queueStatus: Scenario = {
  id: "queue-status",
  number: 2,
  title: `queue status polling, ${STATUS_USERS} queued users (GET /api/queue/me)`,
  targets: [],
  async run(ctx) {
    const users = ctx.users.slice(0, STATUS_USERS).map((u) => ({ ...u, queueTokens: new Map<number, string>() }));
    const { concertId } = await createBenchConcert(ctx.orm, `Bench status ${ctx.nextTag()}`, 1, 1);
    await enterQueue(ctx.client, users, concertId);
    // The same users queued on the bare server (it signs with the same secret, its own Redis prefix).
    const baselineConcert = 2_000_000 + ctx.nextTag();
    const baselineUsers = users.map((u) => ({ ...u, queueTokens: new Map<number, string>() }));
    const baselineClient = new JsonClient(ctx.baselineUrl, 64);
    await enterQueue(baselineClient, baselineUsers, baselineConcert);
    baselineClient.close();

    const load = (url: string, list: BenchUser[], concert: number, durationS: number) =>
      runLoad({ url, connections: ctx.options.connections, durationS, requests: statusRequests(list, concert) });
    await load(ctx.apiUrl, users, concertId, ctx.options.warmupS);
    const runs: RunMetrics[] = [];
    const bareRps: number[] = [];
    for (let i = 0; i < ctx.options.runs; i++) {
      // Interleaved with the bare server's status runs, so drift hits both alike.
      bareRps.push((await load(ctx.baselineUrl, baselineUsers, baselineConcert, ctx.options.durationS)).rps);
      runs.push(await load(ctx.apiUrl, users, concertId, ctx.options.durationS));
    }
    const bare = median(bareRps);
    for (const run of runs) run.extra = { bareStatusRps: bare, ratioToBareStatus: run.rps / bare };
    return { runs, invariants: [] };
  },
};
