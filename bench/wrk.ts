/**
 * One load run with wrk (C, epoll; far cheaper per request than a Node generator on the same
 * cores). The requests go to a file the Lua script reads in init(); see bench/wrk-script.ts.
 * wrk runs under `sh` so the shell, having waited for it, can print its CPU time (cutime/cstime).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { RunMetrics } from "./stats";
import { WRK_SCRIPT } from "./wrk-script";
import { countThreadsDone, parseWrkCpu, parseWrkJson, requestLine, wrkRunMetrics } from "./wrk-output";

export type WrkMode = "cycle" | "once" | "hold-pay";

export interface WrkLine {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** hold-pay: the seat id the hold takes (its 201 names it). */
  key?: string;
}

export interface WrkOptions {
  url: string;
  connections: number;
  threads: number;
  mode: WrkMode;
  lines: readonly WrkLine[];
  /** cycle: the run's seconds; once / hold-pay: the longest it may take. */
  durationS: number;
  /** Idempotency-Key prefix of the payments (hold-pay). */
  tag?: string;
}

export function wrkAvailable(): boolean {
  return spawnSync("wrk", ["--version"], { stdio: "ignore" }).error === undefined;
}

/** `apt-get install -y wrk` when wrk is missing (the bench's only system package); true if it is there. */
export function ensureWrk(log: (message: string) => void): boolean {
  if (wrkAvailable()) return true;
  log("wrk is missing: apt-get install -y wrk");
  const install = spawnSync("apt-get", ["install", "-y", "wrk"], { stdio: "inherit" });
  if (install.status !== 0) spawnSync("sh", ["-c", "apt-get update && apt-get install -y wrk"], { stdio: "inherit" });
  return wrkAvailable();
}

const SHELL = 'wrk "$@" & pid=$!; echo "WRK_PID $pid" >&2; wait $pid; rc=$?; read -r s < /proc/$$/stat; echo "WRK_CPU $s" >&2; exit $rc';

export async function runWrk(options: WrkOptions): Promise<RunMetrics> {
  const threads = Math.max(1, Math.min(options.threads, options.connections, options.lines.length));
  if (options.lines.length === 0) throw new Error("wrk needs at least one request");
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-wrk-"));
  try {
    const script = path.join(dir, "requests.lua");
    const file = path.join(dir, "requests.tsv");
    writeFileSync(script, WRK_SCRIPT);
    writeFileSync(file, `${options.lines.map((l) => requestLine(l.method, l.path, l.headers, l.body, l.key)).join("\n")}\n`);
    const finite = options.mode !== "cycle";
    const args = [
      ...["-t", String(threads), "-c", String(options.connections), "-d", `${options.durationS}s`],
      ...["--timeout", "20s", "--latency", "-s", script, options.url, "--", options.mode, file, options.tag ?? "", String(threads)],
    ];
    const started = performance.now();
    const child = spawn("sh", ["-c", SHELL, "sh", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let wallS: number | undefined;
    let wrkPid = 0;
    let stopped = false;
    const stop = () => {
      if (!stopped && wrkPid && wallS !== undefined) {
        stopped = true;
        process.kill(wrkPid, "SIGINT");
      }
    };
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      wrkPid ||= Number(/WRK_PID (\d+)/.exec(stderr)?.[1] ?? 0);
      stop();
    });
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      // Each request once: the run ends when every thread has its answers; stop wrk there.
      if (finite && wallS === undefined && countThreadsDone(stdout) >= threads) {
        wallS = (performance.now() - started) / 1000;
        stop();
      }
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", resolve);
    });
    if (code !== 0) throw new Error(`wrk exited with ${code}: ${stderr.trim().split("\n").slice(-5).join(" | ")}`);
    const summary = parseWrkJson(stdout);
    const run = wrkRunMetrics(summary, wallS);
    if (options.mode === "hold-pay") run.extra = { held: summary.held, paid: summary.paid };
    const generator = parseWrkCpu(stderr);
    if (generator !== null) run.cpuS = { generator };
    // A finite run that hit durationS before every answer came lost requests (e.g. a dropped connection).
    if (finite && wallS === undefined) run.extra.incomplete = 1;
    return run;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
