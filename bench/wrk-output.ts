/**
 * What wrk (with bench/wrk-script.ts) prints, turned into the bench's figures. Pure, so
 * test/unit/bench-wrk.test.ts covers it without running wrk.
 */
import { statChildrenCpuSeconds } from "./cpu";
import type { RunMetrics } from "./stats";

export interface WrkSummary {
  durationUs: number;
  requests: number;
  bytes: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  non2xx: number;
  latencyUs: { min: number; mean: number; max: number; p50: number; p90: number; p95: number; p99: number; p999: number };
  statuses: Record<string, number>;
  errors: Record<string, number>;
  held: number;
  paid: number;
}

const JSON_MARK = "WRK_JSON ";
const CPU_MARK = "WRK_CPU ";
export const THREAD_DONE = "WRK_THREAD_DONE";

/** The done() line of the script's output; throws with the output's tail when it is missing. */
export function parseWrkJson(stdout: string): WrkSummary {
  const line = stdout.split("\n").find((l) => l.startsWith(JSON_MARK));
  if (!line) throw new Error(`wrk printed no summary:\n${stdout.split("\n").slice(-15).join("\n")}`);
  const summary = JSON.parse(line.slice(JSON_MARK.length)) as WrkSummary;
  if (!Number.isFinite(summary.requests) || !summary.latencyUs) throw new Error(`wrk summary without figures: ${line}`);
  return summary;
}

/** CPU seconds wrk used: cutime + cstime of the shell that waited for it (its WRK_CPU line), or null. */
export function parseWrkCpu(stderr: string): number | null {
  const line = stderr.split("\n").find((l) => l.startsWith(CPU_MARK));
  if (!line) return null;
  const seconds = statChildrenCpuSeconds(line.slice(CPU_MARK.length));
  return Number.isFinite(seconds) ? seconds : null;
}

export function countThreadsDone(stdout: string): number {
  return stdout.split("\n").filter((l) => l === THREAD_DONE).length;
}

/**
 * The run's figures. `wallS` replaces wrk's duration when the run ended on its own (each request
 * once): wrk's own clock then runs until it was stopped. Socket errors count as "socket <kind>".
 */
export function wrkRunMetrics(summary: WrkSummary, wallS?: number): RunMetrics {
  const durationS = wallS ?? summary.durationUs / 1e6;
  const errors: Record<string, number> = { ...summary.errors };
  for (const [kind, n] of Object.entries(summary.socketErrors)) if (n > 0) errors[`socket ${kind}`] = n;
  const ms = (us: number) => us / 1000;
  return {
    requests: summary.requests,
    durationS,
    rps: durationS > 0 ? summary.requests / durationS : Number.NaN,
    latency: {
      count: summary.requests,
      p50: ms(summary.latencyUs.p50),
      p95: ms(summary.latencyUs.p95),
      p99: ms(summary.latencyUs.p99),
      max: ms(summary.latencyUs.max),
    },
    errors,
    statuses: summary.statuses,
    extra: {},
  };
}

/** One request of the request file: tab-separated fields (see bench/wrk-script.ts). */
export function requestLine(method: string, path: string, headers: Record<string, string>, body = "", key = ""): string {
  const fields = [method, path, body, key, ...Object.entries(headers).flat()];
  const bad = fields.find((f) => /[\t\r\n]/.test(f));
  if (bad !== undefined) throw new Error(`a wrk request field cannot hold tabs or line breaks: ${JSON.stringify(bad).slice(0, 80)}`);
  return fields.join("\t");
}
