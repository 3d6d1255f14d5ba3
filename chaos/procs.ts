/**
 * Child processes of the chaos suite: spawned with their output in a log file, remembered in one
 * registry so that every one of them is killed at the end, also when a run or a test fails.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { openSync, closeSync, readFileSync, existsSync } from "node:fs";
import { connect } from "node:net";
import path from "node:path";

/** The project root (holds scripts/infra.sh), from source or from dist/, else the cwd. */
export function projectRoot(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "scripts", "infra.sh"))) return dir;
  }
  return process.cwd();
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it is true; throws naming `label` after timeoutMs. */
export async function waitFor(label: string, probe: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 200): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await Promise.resolve().then(probe).catch(() => false)) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`chaos: timed out after ${timeoutMs} ms waiting for ${label}`);
    await sleep(everyMs);
  }
}

export function portOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.setTimeout(1000);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
  });
}

/** Pids the suite must kill at exit that are not its direct children (daemons: postmaster, Kafka). */
const extraPids = new Set<number>();
const children = new Set<ChildProcess>();

export function trackPid(pid: number): void {
  extraPids.add(pid);
}

export function untrackPid(pid: number): void {
  extraPids.delete(pid);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A long-running child: output appended to `logFile`. */
export class Child {
  readonly proc: ChildProcess;
  readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    readonly logFile: string,
    options: SpawnOptions = {},
  ) {
    const fd = openSync(logFile, "a");
    this.proc = spawn(command, args, { ...options, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    children.add(this.proc);
    this.exited = new Promise((resolve) => this.proc.once("exit", () => resolve()));
    void this.exited.then(() => children.delete(this.proc));
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** SIGTERM, then SIGKILL after graceMs. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.alive) return;
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => this.alive && this.proc.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  async kill9(): Promise<void> {
    if (!this.alive) return;
    this.proc.kill("SIGKILL");
    await this.exited;
  }

  tail(lines = 30): string {
    try {
      return readFileSync(this.logFile, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }
}

/** Runs a command to completion without blocking the event loop; throws with its output when it fails. */
export function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let output = "";
    child.stdout?.on("data", (chunk) => (output += chunk));
    child.stderr?.on("data", (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 180_000);
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (code === 0) resolve(output);
      else reject(new Error(`chaos: ${command} ${args.join(" ")} failed (${code ?? signal}): ${output.slice(-2000)}`));
    });
  });
}

/** Kills every child and tracked daemon right now (synchronous: usable in an exit handler). */
export function killEverything(): void {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const pid of extraPids) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, "SIGKILL");
      } catch {
        // not a group leader, or already gone
      }
    }
  }
  extraPids.clear();
}

let hooked = false;

/** Last line of defence against orphans: kill everything when this process ends. */
export function installExitHooks(): void {
  if (hooked) return;
  hooked = true;
  process.once("exit", killEverything);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      killEverything();
      process.exit(130);
    });
  }
}
