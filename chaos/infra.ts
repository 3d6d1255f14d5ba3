/**
 * Private infrastructure for fault injection: redis-server, nats-server, a PostgreSQL 15 cluster and
 * a Kafka broker on free ports under one temp dir, so stopping or killing them never disturbs the
 * machine's shared servers. Each one: start, stop (graceful), kill -9, restart, with readiness waits.
 */
import { chmodSync, mkdirSync, readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { freePort } from "../lib/net";
import { Child, isAlive, projectRoot, portOpen, run, trackPid, untrackPid, waitFor, sleep } from "./procs";

export interface Server {
  readonly name: string;
  readonly port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

export async function restart(server: Server, downMs = 0): Promise<void> {
  await server.stop();
  if (downMs > 0) await sleep(downMs);
  await server.start();
}

/** A server that is a direct child process of the suite (redis-server, nats-server). */
abstract class ChildServer implements Server {
  protected child?: Child;
  abstract readonly name: string;
  constructor(
    readonly port: number,
    protected readonly dir: string,
  ) {}
  protected abstract command(): [string, string[]];

  async start(): Promise<void> {
    const [command, args] = this.command();
    this.child = new Child(this.name, command, args, path.join(this.dir, `${this.name}.log`));
    const child = this.child;
    await waitFor(`${this.name} on port ${this.port}`, async () => {
      if (!child.alive) throw new Error(`${this.name} exited: ${child.tail()}`);
      return portOpen(this.port);
    }, 20_000, 100);
  }

  async stop(): Promise<void> {
    await this.child?.stop();
  }

  async kill9(): Promise<void> {
    await this.child?.kill9();
  }
}

export class RedisServer extends ChildServer {
  readonly name = "redis";
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  protected command(): [string, string[]] {
    // Nothing persisted: a restart loses every key (SPEC §9).
    return ["redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", this.dir]];
  }
}

export class NatsServer extends ChildServer {
  readonly name = "nats";
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }
  protected command(): [string, string[]] {
    const store = path.join(this.dir, "nats-js");
    mkdirSync(store, { recursive: true });
    return ["/usr/sbin/nats-server", ["-a", "127.0.0.1", "-p", String(this.port), "-js", "-sd", store]];
  }
}

const PG_BIN = process.env.CHAOS_PG_BIN ?? "/usr/lib/postgresql/15/bin";

/** PostgreSQL refuses to run as root: run its tools as the postgres user when we are root. */
function asPostgres(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];
}

export class PostgresCluster implements Server {
  readonly name = "postgres";
  private readonly data: string;

  constructor(
    readonly port: number,
    private readonly dir: string,
  ) {
    this.data = path.join(dir, "pgdata");
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async init(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    if (process.getuid?.() === 0) await run("chown", ["postgres:postgres", this.dir]);
    await run(...asPostgres(`${PG_BIN}/initdb`, ["-D", this.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]));
  }

  private postmasterPid(): number | undefined {
    const file = path.join(this.data, "postmaster.pid");
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  async start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
    await run(...asPostgres(`${PG_BIN}/pg_ctl`, ["-D", this.data, "-l", path.join(this.dir, "postgres.log"), "-o", options, "-w", "-t", "60", "start"]));
    const pid = this.postmasterPid();
    if (pid) trackPid(pid); // pg_ctl runs it in its own session: kill its group at exit
    await waitFor("postgres", () => portOpen(this.port), 30_000, 100);
  }

  /** Fast shutdown: sessions are terminated (57P01), like an operator's restart. */
  async stop(): Promise<void> {
    const pid = this.postmasterPid();
    if (pid === undefined || !isAlive(pid)) return;
    await run(...asPostgres(`${PG_BIN}/pg_ctl`, ["-D", this.data, "-m", "fast", "-w", "-t", "60", "stop"]));
    untrackPid(pid);
  }

  async kill9(): Promise<void> {
    const pid = this.postmasterPid();
    if (pid === undefined) return;
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      process.kill(pid, "SIGKILL");
    }
    await waitFor("postgres to die", () => !isAlive(pid), 10_000, 50);
    untrackPid(pid);
  }
}

const ROOT = projectRoot();

/** A single-node KRaft broker started by scripts/infra.sh with this suite's ports and dir. */
export class KafkaBroker implements Server {
  readonly name = "kafka";
  constructor(
    readonly port: number,
    private readonly controllerPort: number,
    private readonly dir: string,
    private readonly libsDir: string,
  ) {}

  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  private env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      INFRA_DIR: this.dir,
      KAFKA_PORT: String(this.port),
      KAFKA_CONTROLLER_PORT: String(this.controllerPort),
      KAFKA_LIBS_DIR: this.libsDir,
      KAFKA_HEAP: "-Xms128m -Xmx384m",
    };
  }

  private pid(): number | undefined {
    const file = path.join(this.dir, "kafka", "kafka.pid");
    return existsSync(file) ? Number(readFileSync(file, "utf8").trim()) : undefined;
  }

  async start(): Promise<void> {
    await run("bash", [path.join(ROOT, "scripts/infra.sh"), "kafka-up"], { env: this.env(), timeoutMs: 180_000 });
    const pid = this.pid();
    if (pid) trackPid(pid);
  }

  async stop(): Promise<void> {
    const pid = this.pid();
    await run("bash", [path.join(ROOT, "scripts/infra.sh"), "down"], { env: this.env(), timeoutMs: 90_000 });
    if (pid) untrackPid(pid);
  }

  async kill9(): Promise<void> {
    const pid = this.pid();
    if (!pid) return;
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
    await waitFor("kafka to die", async () => !(await portOpen(this.port)), 20_000, 100);
    untrackPid(pid);
  }
}

export interface Infra {
  dir: string;
  redis: RedisServer;
  nats: NatsServer;
  postgres: PostgresCluster;
  kafka: KafkaBroker;
}

/** Creates and starts all four (Kafka in parallel with the others: it is the slowest). */
export async function startInfra(dir: string, kafkaLibsDir: string): Promise<Infra> {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755); // the postgres user must reach its data dir below this one
  const [redisPort, natsPort, pgPort, kafkaPort, controllerPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const infra: Infra = {
    dir,
    redis: new RedisServer(redisPort, dir),
    nats: new NatsServer(natsPort, dir),
    postgres: new PostgresCluster(pgPort, path.join(dir, "pg")),
    kafka: new KafkaBroker(kafkaPort, controllerPort, path.join(dir, "kafka-infra"), kafkaLibsDir),
  };
  const kafka = infra.kafka.start();
  await Promise.all([infra.redis.start(), infra.nats.start(), infra.postgres.init().then(() => infra.postgres.start())]);
  await kafka;
  return infra;
}

export async function stopInfra(infra: Infra | undefined): Promise<void> {
  if (!infra) return;
  for (const server of [infra.kafka, infra.postgres, infra.nats, infra.redis]) {
    await server.kill9().catch(() => undefined);
  }
}
