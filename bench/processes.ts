/**
 * The processes a benchmark starts (system nodes, the data-platform stand-in, the baseline server):
 * spawn with this Node binary, wait until they answer, sample their resident memory, stop them.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";

export interface ProcessSpec {
  name: string;
  /** Script run by process.execPath (Node 24), relative to the project root or absolute. */
  script: string;
  args?: string[];
  env: NodeJS.ProcessEnv;
  /** Extra Node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  cwd: string;
  /** Echo the child's output (--verbose). */
  echo?: boolean;
}

const TAIL_LINES = 40;

export class BenchProcess {
  readonly child: ChildProcess;
  private readonly tail: string[] = [];
  readonly exited: Promise<number | null>;
  /** performance.now() when the process was spawned (profile windows are relative to it). */
  readonly spawnedAt = performance.now();
  private stopping = false;

  constructor(readonly spec: ProcessSpec) {
    this.child = spawn(process.execPath, [...(spec.nodeArgs ?? []), spec.script, ...(spec.args ?? [])], {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (chunk: Buffer) => {
      const text = chunk.toString();
      if (spec.echo) process.stderr.write(text.replace(/^/gm, `[${spec.name}] `));
      this.tail.push(...text.split("\n").filter(Boolean));
      if (this.tail.length > TAIL_LINES) this.tail.splice(0, this.tail.length - TAIL_LINES);
    };
    this.child.stdout?.on("data", keep);
    this.child.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
    void this.exited.then((code) => {
      if (!this.stopping) process.stderr.write(`!! ${spec.name} exited unexpectedly (${code})\n${this.output()}\n`);
    });
  }

  get name(): string {
    return this.spec.name;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.tail.join("\n");
  }

  /** SIGTERM (graceful: --cpu-prof profiles are written on a clean exit), SIGKILL after timeoutMs. */
  async stop(timeoutMs = 15_000): Promise<void> {
    this.stopping = true;
    if (!this.alive) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.alive && this.child.kill("SIGKILL"), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface MemoryKb {
  rssKb: number;
  /** Peak RSS over the process's whole life (VmHWM). */
  hwmKb: number;
}

/** Current and lifetime-peak resident memory of a process, from /proc (ps where /proc is missing). */
export function readMemory(pid: number): MemoryKb | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
    return { rssKb: field("VmRSS"), hwmKb: field("VmHWM") };
  } catch {
    try {
      const rss = Number(execFileSync("ps", ["-o", "rss=", "-p", String(pid)]).toString().trim());
      return Number.isFinite(rss) ? { rssKb: rss, hwmKb: rss } : null;
    } catch {
      return null;
    }
  }
}

export interface MonitorReport {
  /** Highest resident set size (MB) of each process while monitored. */
  peakRssMb: Record<string, number>;
}

/** Samples the RSS of processes while a scenario runs (peak per process); CPU is bench/cpu.ts's. */
export class ProcessMonitor {
  private peaks = new Map<string, number>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly processes: () => BenchProcess[]) {}

  start(intervalMs = 100): void {
    this.peaks.clear();
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  stop(): MonitorReport {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    return { peakRssMb: Object.fromEntries([...this.peaks].map(([name, kb]) => [name, Math.round(kb / 1024)])) };
  }

  private sample(): void {
    for (const proc of this.processes()) {
      const memory = proc.alive ? readMemory(proc.pid) : null;
      if (memory && Number.isFinite(memory.rssKb)) {
        this.peaks.set(proc.name, Math.max(this.peaks.get(proc.name) ?? 0, memory.rssKb));
      }
    }
  }
}

export { freePort } from "../lib/net";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns true; throws with `label` after timeoutMs. */
export async function waitUntil(probe: () => Promise<boolean>, timeoutMs: number, label: string, everyMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${label}`);
    await sleep(everyMs);
  }
}
