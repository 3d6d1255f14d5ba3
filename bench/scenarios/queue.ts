/**
 * Queue scenarios, each run paired with the bare server doing the same Redis work:
 *   queue-entry  POST /api/concerts/:id/queue, distinct users, one fresh concert per run
 *   queue-status GET /api/queue/me of 2,000 queued users
 */
import { createBenchConcert, enterQueue, type BenchUser } from "../fixtures";
import { JsonClient } from "../http-client";
import type { LoadLine } from "../load";
import type { InvariantOutcome } from "../report";
import type { Scenario, ScenarioContext } from "../scenario";
import type { RunMetrics } from "../stats";
import { queueKeys } from "../../modules/queue/queue-keys";
import { countEntries, entryLines, pairedRuns } from "./baselines";

async function waitingPlusActive(ctx: ScenarioContext, concertId: number): Promise<number> {
  const k = queueKeys(ctx.env.redisPrefix, concertId);
  const [waiting, active] = await Promise.all([ctx.redis.zcard(k.waiting), ctx.redis.zcard(k.active)]);
  return waiting + active;
}

export const queueEntry: Scenario = {
  id: "queue-entry",
  number: 1,
  title: "queue entry, distinct users (POST /api/concerts/:id/queue)",
  ratioTo: "bare queue entry",
  targets: [{ label: "≥ 0.5 of the bare queue entry", metric: "ratio", op: ">=", value: 0.5 }],
  async run(ctx) {
    const fresh = async () => (await createBenchConcert(ctx.orm, `Bench entry ${ctx.nextTag()}`, 1, 1)).concertId;
    const entry = async (concertId: number, durationS: number) =>
      countEntries(await ctx.load({ url: ctx.apiUrl, mode: "cycle", lines: entryLines(ctx.users, concertId), durationS }));
    await entry(await fresh(), ctx.options.warmupS);
    const invariants: InvariantOutcome[] = [];
    const runs = await pairedRuns(ctx, { kind: "entry" }, async (i) => {
      const concertId = await fresh();
      const run = await entry(concertId, ctx.options.durationS);
      // Every 201 is one place in the queue (nobody leaves or pays here); requests in flight when
      // the run stopped (at most one per connection) created places without a counted 201.
      const places = await waitingPlusActive(ctx, concertId);
      const created = run.extra.created;
      invariants.push({
        name: `run ${i + 1}: each created entry holds one queue place`,
        pass: places >= created && places <= created + ctx.options.connections,
        detail: `201 answers ${created}, waiting+active ${places} (≤ ${ctx.options.connections} in flight at the end)`,
      });
      return run;
    });
    return { runs, invariants };
  },
};

const STATUS_USERS = 2000;

function statusLines(users: readonly BenchUser[], concertId: number): LoadLine[] {
  return users.map((u) => ({
    method: "GET",
    path: "/api/queue/me",
    headers: { authorization: u.authorization, "x-queue-token": u.queueTokens.get(concertId) ?? "" },
  }));
}

export const queueStatus: Scenario = {
  id: "queue-status",
  number: 2,
  title: `queue status polling, ${STATUS_USERS} queued users (GET /api/queue/me)`,
  ratioTo: "bare queue status",
  targets: [{ label: "≥ 0.5 of the bare queue status", metric: "ratio", op: ">=", value: 0.5 }],
  async run(ctx) {
    const users = ctx.users.slice(0, STATUS_USERS).map((u) => ({ ...u, queueTokens: new Map<number, string>() }));
    const { concertId } = await createBenchConcert(ctx.orm, `Bench status ${ctx.nextTag()}`, 1, 1);
    await enterQueue(ctx.client, users, concertId);
    // The same users queued on the bare server (it signs with the same secret, its own Redis prefix).
    const bareConcert = 2_000_000 + ctx.nextTag();
    const bareUsers = users.map((u) => ({ ...u, queueTokens: new Map<number, string>() }));
    const bareClient = new JsonClient(ctx.baselineUrl, 64);
    await enterQueue(bareClient, bareUsers, bareConcert);
    bareClient.close();

    const lines = statusLines(users, concertId);
    const bareLines = statusLines(bareUsers, bareConcert);
    const load = (url: string, l: LoadLine[], durationS: number) => ctx.load({ url, mode: "cycle", lines: l, durationS });
    await load(ctx.apiUrl, lines, ctx.options.warmupS);
    await load(ctx.baselineUrl, bareLines, ctx.options.warmupS);
    const runs: RunMetrics[] = [];
    for (let i = 0; i < ctx.options.runs; i++) {
      // Interleaved with the bare server's status runs, so drift hits both alike.
      const bare = await load(ctx.baselineUrl, bareLines, ctx.options.durationS);
      const run = await load(ctx.apiUrl, lines, ctx.options.durationS);
      run.extra = { pairedBaselineRps: bare.rps, pairedRatio: run.rps / bare.rps };
      runs.push(run);
    }
    const bad = runs.reduce((n, r) => n + Object.values(r.errors).reduce((a, b) => a + b, 0), 0);
    return { runs, invariants: [{ name: "every status poll answered 200", pass: bad === 0, detail: `${bad} error answers` }] };
  },
};
