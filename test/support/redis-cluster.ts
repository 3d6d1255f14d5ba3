/**
 * A real Redis Cluster of three masters on local ports, for one test file: three
 * `redis-server --cluster-enabled yes` children in a temp dir, joined by `redis-cli --cluster create`.
 * Nothing is persisted; stop() kills the children and removes the dir.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
/** A cluster node also listens on port + 10000 (the cluster bus). */
const BUS_OFFSET = 10_000;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A port that is free, and whose cluster-bus port is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (taken.has(port) || taken.has(port + BUS_OFFSET)) continue;
    if ((await canListen(port)) && (await canListen(port + BUS_OFFSET))) {
      taken.add(port).add(port + BUS_OFFSET);
      return port;
    }
  }
  throw new Error("no free port pair for a Redis Cluster node");
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { timeout: 30_000 });
  return stdout;
}

export class LocalRedisCluster {
  readonly ports: number[] = [];
  private readonly children: ChildProcess[] = [];
  private dir = "";

  /** "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3": the value of REDIS_CLUSTER_NODES. */
  get nodesSetting(): string {
    return this.ports.map((port) => `127.0.0.1:${port}`).join(",");
  }

  async start(masters = 3): Promise<void> {
    this.dir = mkdtempSync(path.join(tmpdir(), "redis-cluster-"));
    const taken = new Set<number>();
    for (let i = 0; i < masters; i++) this.ports.push(await clusterPort(taken));
    for (const port of this.ports) {
      const child = spawn(
        "redis-server",
        [
          "--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
          "--cluster-config-file", path.join(this.dir, `nodes-${port}.conf`), "--cluster-node-timeout", "2000",
          "--save", "", "--appendonly", "no", "--dir", this.dir,
        ],
        { stdio: "ignore" },
      );
      this.children.push(child);
    }
    for (const port of this.ports) await this.until(async () => (await cli(port, "PING")).trim() === "PONG", `node ${port} up`);
    await run(
      "redis-cli",
      ["--cluster", "create", ...this.ports.map((port) => `127.0.0.1:${port}`), "--cluster-replicas", "0", "--cluster-yes"],
      { timeout: 60_000 },
    );
    for (const port of this.ports) {
      await this.until(async () => (await cli(port, "CLUSTER", "INFO")).includes("cluster_state:ok"), `cluster_state:ok on ${port}`);
    }
  }

  /** CLUSTER KEYSLOT of `key`, as Redis computes it. */
  async keySlot(key: string): Promise<number> {
    return Number((await cli(this.ports[0], "CLUSTER", "KEYSLOT", key)).trim());
  }

  /** Every key under `prefix` on the master at `port` (each master holds only its own slots' keys). */
  async keysOn(port: number, prefix: string): Promise<string[]> {
    const out = await cli(port, "--scan", "--pattern", `${prefix}*`);
    return out.split("\n").filter(Boolean);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGKILL");
          }),
      ),
    );
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  private async until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await check().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`Redis Cluster: timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
