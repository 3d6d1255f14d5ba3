/**
 * The bare servers the scenarios are compared with (all in bench/baseline-server.ts):
 *   calibration  GET /noop: node:http answering a constant 200, no work. What the generator
 *                reaches here is its ceiling beside one Node process; the baseline staying below it
 *                shows the generator is not what limits the baseline.
 *   baseline     POST /api/concerts/:id/queue: the queue entry's JWT + Lua + token work, no framework
 *   bare GET     GET /bare/get/<name>: one Redis GET of a stored value, sent as it is (seat-map ratio)
 * `paired` runs one bare run right before a scenario run: both see the same background load, so
 * run ÷ its own baseline cancels noise that comes and goes (other processes on a 2-core machine).
 */
import type { LoadLine } from "../load";
import type { ScenarioContext } from "../scenario";
import type { BenchUser } from "../fixtures";
import type { RunMetrics } from "../stats";

/** Queue entries of distinct users, rotating over the pool. */
export function entryLines(users: readonly BenchUser[], concertId: number): LoadLine[] {
  return users.map((u) => ({ method: "POST", path: `/api/concerts/${concertId}/queue`, headers: { authorization: u.authorization } }));
}

/** Counts created (201) and repeated (200) entries of a queue-entry run into its extra figures. */
export function countEntries(run: RunMetrics): RunMetrics {
  run.extra = { ...run.extra, created: run.statuses?.["201"] ?? 0, repeatedUsers: run.statuses?.["200"] ?? 0 };
  return run;
}

export type BareKind = "entry" | "get";

export interface Paired {
  kind: BareKind;
  /** The value the bare GET sends (kind "get"). */
  getName?: string;
}

/** One bare run of the kind; entry runs use a queue id not used before (the bare server checks none). */
export async function bareRun(ctx: ScenarioContext, paired: Paired, durationS: number): Promise<RunMetrics> {
  if (paired.kind === "get") {
    const lines: LoadLine[] = [{ method: "GET", path: `/bare/get/${paired.getName}`, headers: {} }];
    return ctx.load({ url: ctx.baselineUrl, mode: "cycle", lines, durationS });
  }
  const run = await ctx.load({ url: ctx.baselineUrl, mode: "cycle", lines: entryLines(ctx.users, 1_000_000 + ctx.nextTag()), durationS });
  return countEntries(run);
}

/** Runs `measure` `runs` times, each right after a paired bare run; records pairedBaselineRps / pairedRatio. */
export async function pairedRuns(ctx: ScenarioContext, paired: Paired, measure: (i: number) => Promise<RunMetrics>): Promise<RunMetrics[]> {
  const runs: RunMetrics[] = [];
  for (let i = 0; i < ctx.options.runs; i++) {
    const bare = await bareRun(ctx, paired, ctx.options.durationS);
    const run = await measure(i);
    run.extra = { ...run.extra, pairedBaselineRps: bare.rps, pairedRatio: run.rps / bare.rps };
    runs.push(run);
  }
  return runs;
}

/** The bare queue-entry runs reported as "baseline" (median of runs, after a warm-up). */
export async function baselineEntry(ctx: ScenarioContext): Promise<RunMetrics[]> {
  await bareRun(ctx, { kind: "entry" }, ctx.options.warmupS);
  const runs: RunMetrics[] = [];
  for (let i = 0; i < ctx.options.runs; i++) runs.push(await bareRun(ctx, { kind: "entry" }, ctx.options.durationS));
  return runs;
}

/** The generator against a constant 200 (median of runs, after a warm-up). */
export async function calibration(ctx: ScenarioContext): Promise<RunMetrics[]> {
  const lines: LoadLine[] = [{ method: "GET", path: "/noop", headers: {} }];
  await ctx.load({ url: ctx.baselineUrl, mode: "cycle", lines, durationS: ctx.options.warmupS });
  const runs: RunMetrics[] = [];
  for (let i = 0; i < ctx.options.runs; i++) runs.push(await ctx.load({ url: ctx.baselineUrl, mode: "cycle", lines, durationS: ctx.options.durationS }));
  return runs;
}
