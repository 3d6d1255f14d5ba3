/** Figures of one fault run from the buyers' records: failures by kind and period, 500s, recovery time. */
import { isFailure } from "./http";
import type { FaultMetrics, FaultWindow, InvariantResult, ResponseRecord } from "./types";

const key = (r: ResponseRecord) => `${r.status} ${r.type ?? ""}`.trim();

/** Counts per "<status> <type> @<step>": which answers, and on which step of the journey. */
function tally(records: ResponseRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of records) {
    const k = `${key(r)} @${r.step}`;
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

/** A success, a domain answer (4xx other than a vanished route), or 503 SERVICE_UNAVAILABLE + Retry-After. */
function wellFormed(r: ResponseRecord): boolean {
  if (r.status >= 200 && r.status < 500) return !isFailure(r);
  return r.status === 503 && r.type === "SERVICE_UNAVAILABLE" && r.retryAfter !== undefined;
}

export function faultMetrics(all: ResponseRecord[], w: FaultWindow): FaultMetrics {
  const mine = all.filter((r) => r.t >= w.baselineStart && r.t <= w.recoveryEnd);
  const during = mine.filter((r) => r.t >= w.faultStart && r.t < w.faultEnd);
  const after = mine.filter((r) => r.t >= w.faultEnd);
  const failedAfter = after.filter(isFailure);
  const lastFailure = failedAfter.length ? Math.max(...failedAfter.map((r) => r.t + r.ms)) : undefined;
  const succeededLater = lastFailure !== undefined && after.some((r) => r.t >= lastFailure && !isFailure(r));
  let recoveryS: number | null = 0;
  if (lastFailure !== undefined) recoveryS = succeededLater ? Math.round((lastFailure - w.faultEnd) / 100) / 10 : null;
  return {
    requests: mine.length,
    failuresDuring: tally(during.filter(isFailure)),
    failuresAfter: tally(failedAfter),
    fiveXxDuring: during.filter((r) => r.status >= 500).length,
    otherFailures: [...during, ...after].filter((r) => isFailure(r) && r.status < 500).length,
    maxMsDuring: during.reduce((max, r) => Math.max(max, r.ms), 0),
    fiveXxAfter: after.filter((r) => r.status >= 500).length,
    count500: mine.filter((r) => r.status === 500).length,
    recoveryS,
    badAnswers: tally(mine.filter((r) => r.t >= w.faultStart && !wellFormed(r))),
    samples500: mine.filter((r) => r.body500).slice(0, 3).map((r) => `t=${r.t} ${r.step}: ${r.body500}`),
    leaks: [...new Set(mine.filter((r) => r.leak).map((r) => `${key(r)}: ${r.leak}`))].slice(0, 5),
  };
}

/** Per second of the fault's run (0 = start of the baseline): [second, answered well, failed]. */
export function timeline(all: ResponseRecord[], w: FaultWindow): Array<[number, number, number]> {
  const seconds = new Map<number, [number, number, number]>();
  for (const r of all) {
    if (r.t < w.baselineStart || r.t > w.recoveryEnd) continue;
    const s = Math.floor((r.t - w.baselineStart) / 1000);
    const slot = seconds.get(s) ?? [s, 0, 0];
    slot[isFailure(r) ? 2 : 1]++;
    seconds.set(s, slot);
  }
  return [...seconds.values()].sort((a, b) => a[0] - b[0]);
}

export function check(name: string, ok: boolean, detail: string): InvariantResult {
  return { name, ok, detail };
}

/** SPEC §11 after a kill -9 of one of two workers: ≤ 5% fail in the 15 s after, none from 10 s on. */
export function killBudget(all: ResponseRecord[], killAt: number, observeMs: number, requestTimeoutMs: number): InvariantResult[] {
  const first = all.filter((r) => r.t >= killAt && r.t < killAt + 15_000);
  const failed = first.filter(isFailure);
  const share = first.length ? failed.length / first.length : 0;
  const late = all.filter((r) => r.t >= killAt + 10_000 && r.t < killAt + Math.max(observeMs, 15_000) && isFailure(r));
  return [
    check("§11 ≤ 5% of requests fail in the 15 s after kill -9", share <= 0.05, `${failed.length}/${first.length} failed (${(share * 100).toFixed(1)}%): ${JSON.stringify(tally(failed))}`),
    check("§11 no request fails from kill + 10 s on", late.length === 0, `${late.length} failed: ${JSON.stringify(tally(late))}`),
    // The nodes' default requestTimeout (REQUEST_TIMEOUT_MS) is 10 s: nobody may wait it out.
    check("§11 no request waits out a full requestTimeout", first.every((r) => r.ms < requestTimeoutMs), `slowest ${Math.max(0, ...first.map((r) => r.ms))} ms`),
  ];
}

/** SPEC §11 for a dependency that is down: only good answers or a proper 503, no driver text, quick recovery. */
export function dependencyChecks(m: FaultMetrics, budgetS: number): InvariantResult[] {
  const bad = Object.entries(m.badAnswers);
  return [
    check("§11 every answer a success or 503 SERVICE_UNAVAILABLE + Retry-After", bad.length === 0, bad.length ? JSON.stringify(m.badAnswers) : "ok"),
    check("§11 no driver text in any body", m.leaks.length === 0, m.leaks.join(" | ") || "ok"),
    check(`§11 good again within ${budgetS} s without a node restart`, m.recoveryS !== null && m.recoveryS <= budgetS, `recovery ${m.recoveryS ?? "never"} s`),
  ];
}
