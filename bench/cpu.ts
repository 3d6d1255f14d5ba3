/**
 * Where the CPU time of a load run goes: CPU seconds of each process (system nodes, stand-in,
 * baseline, Redis, every PostgreSQL process, the load generator) over the run, and the same per
 * 1,000 requests. Readers use /proc (Linux); the arithmetic below them is pure (unit-tested).
 */
import { readdirSync, readFileSync } from "node:fs";
import { median } from "./stats";

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** The fields of a /proc/<pid>/stat line after the parenthesised command name (field 3 first). */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(")") + 2).trim().split(/\s+/);
}

/** utime + stime (fields 14, 15) of a stat line, seconds. */
export function statCpuSeconds(stat: string): number {
  const f = statFields(stat);
  return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
}

/** cutime + cstime (fields 16, 17): CPU of the children the process has waited for, seconds. */
export function statChildrenCpuSeconds(stat: string): number {
  const f = statFields(stat);
  return (Number(f[13]) + Number(f[14])) / CLOCK_TICKS;
}

/** The command name (field 2) of a stat line. */
export function statComm(stat: string): string {
  return stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
}

function readStat(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
}

/** CPU seconds of every live process whose command is `comm` (e.g. postgres), by pid. */
export function commCpuSeconds(comm: string): Map<number, number> {
  const found = new Map<number, number>();
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return found;
  }
  for (const pid of pids) {
    const stat = readStat(Number(pid));
    if (stat && statComm(stat) === comm) found.set(Number(pid), statCpuSeconds(stat));
  }
  return found;
}

export type CpuSnapshot = Record<string, number>;

/**
 * after − before per process. Names "group#pid" are processes of a group (the PostgreSQL backends):
 * one that appeared during the run counts from 0, and the group's processes are summed under
 * "group". Other processes missing from either snapshot are left out.
 */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot {
  const delta: CpuSnapshot = {};
  for (const [name, value] of Object.entries(after)) {
    const hash = name.indexOf("#");
    if (hash > 0) {
      const group = name.slice(0, hash);
      delta[group] = (delta[group] ?? 0) + Math.max(0, value - (before[name] ?? 0));
    } else if (name in before) {
      delta[name] = Math.max(0, value - before[name]);
    }
  }
  return delta;
}

/** CPU seconds per 1,000 requests of each process; empty when nothing was answered. */
export function cpuPer1000(cpuS: CpuSnapshot, requests: number): CpuSnapshot {
  if (!(requests > 0)) return {};
  return Object.fromEntries(Object.entries(cpuS).map(([name, s]) => [name, (s / requests) * 1000]));
}

/** Median over runs of each process's CPU seconds per 1,000 requests. */
export function medianCpuPer1000(runs: ReadonlyArray<{ requests: number; cpuS?: CpuSnapshot }>): CpuSnapshot {
  const per = runs.map((r) => cpuPer1000(r.cpuS ?? {}, r.requests));
  const names = [...new Set(per.flatMap((p) => Object.keys(p)))];
  return Object.fromEntries(names.map((name) => [name, median(per.flatMap((p) => (name in p ? [p[name]] : [])))]));
}

/** Average cores of each process over the runs: total CPU seconds ÷ total run seconds. */
export function coresOverRuns(runs: ReadonlyArray<{ durationS: number; cpuS?: CpuSnapshot }>): CpuSnapshot {
  const seconds = runs.reduce((sum, r) => sum + (Number.isFinite(r.durationS) ? r.durationS : 0), 0);
  if (!(seconds > 0)) return {};
  const total: CpuSnapshot = {};
  for (const r of runs) for (const [name, s] of Object.entries(r.cpuS ?? {})) total[name] = (total[name] ?? 0) + s;
  return Object.fromEntries(Object.entries(total).map(([name, s]) => [name, s / seconds]));
}

/** Snapshots the CPU seconds of the bench's processes, Redis and PostgreSQL (summed over its processes). */
export class CpuProbe {
  constructor(private readonly targets: () => Array<{ name: string; pid: number }>) {}

  snapshot(): CpuSnapshot {
    const snap: CpuSnapshot = {};
    for (const { name, pid } of this.targets()) {
      const stat = readStat(pid);
      if (stat) snap[name] = statCpuSeconds(stat);
    }
    for (const [pid, seconds] of commCpuSeconds("postgres")) snap[`postgres#${pid}`] = seconds;
    return snap;
  }
}
