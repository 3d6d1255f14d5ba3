/**
 * A real 3-node cluster over the private NATS: a gateway (api, auth) and two workers (every other
 * service), each a moleculer-runner OS process started from dist/, like scripts/start.sh does.
 * An observer broker (no services) asks the gateway's `$node.list` who it still sees.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { ServiceBroker } from "moleculer";
import { brokerOptions } from "../lib/broker-options";
import { loadConfig } from "../lib/config";
import { freePort } from "../lib/net";
import { Child, projectRoot, waitFor } from "./procs";

export const CHAOS_NAMESPACE = "chaos";

export interface ClusterEnv {
  databaseUrl: string;
  redisUrl: string;
  transporter: string;
  kafkaBrokers: string;
  dataPlatformUrl: string;
  redisPrefix: string;
  /** Extra environment (short timings), applied to every node. */
  extra: Record<string, string>;
  logDir: string;
}

interface NodeSpec {
  id: string;
  services: string;
  port: number;
}

/** Service file names of dist/services (moleculer-runner's SERVICES uses them): "kafka-bridge", … */
function builtServices(root: string): string[] {
  return readdirSync(path.join(root, "dist/services"))
    .filter((file) => file.endsWith(".service.js"))
    .map((file) => file.replace(/\.service\.js$/, ""))
    .sort();
}

export class Cluster {
  readonly root = projectRoot();
  private readonly nodes = new Map<string, { spec: NodeSpec; child: Child }>();
  private observer?: ServiceBroker;
  gatewayPort = 0;

  constructor(private readonly env: ClusterEnv) {}

  get apiUrl(): string {
    return `http://127.0.0.1:${this.gatewayPort}/api`;
  }

  readonly gatewayId = `${CHAOS_NAMESPACE}-gateway`;
  readonly workerIds = [`${CHAOS_NAMESPACE}-worker-1`, `${CHAOS_NAMESPACE}-worker-2`];

  async start(): Promise<void> {
    this.gatewayPort = await freePort();
    const workerServices = builtServices(this.root).filter((s) => s !== "api" && s !== "auth").join(",");
    this.spawn({ id: this.gatewayId, services: "api,auth", port: this.gatewayPort });
    for (const id of this.workerIds) this.spawn({ id, services: workerServices, port: await freePort() });
    // Same heartbeat timings as the nodes, or they would drop the observer as silent.
    const { heartbeatInterval, heartbeatTimeout, registry } = brokerOptions(loadConfig({ ...process.env, ...this.env.extra }));
    this.observer = new ServiceBroker({
      heartbeatInterval,
      heartbeatTimeout,
      registry,
      namespace: CHAOS_NAMESPACE,
      nodeID: `${CHAOS_NAMESPACE}-observer`,
      transporter: { type: "NATS", options: { url: this.env.transporter } },
      logger: false,
      serializer: "JSON",
    });
    await this.observer.start();
    await this.waitReady(120_000);
  }

  private spawn(spec: NodeSpec): void {
    const base = { ...process.env };
    delete base.SERVICES;
    delete base.SERVICEDIR;
    const env: NodeJS.ProcessEnv = {
      ...base,
      NODE_ENV: "development",
      LOG_LEVEL: "warn",
      NAMESPACE: CHAOS_NAMESPACE,
      NODE_ID: spec.id,
      SERVICES: spec.services,
      SERVICEDIR: "dist/services",
      PORT: String(spec.port),
      METRICS_ENABLED: "false",
      DATABASE_URL: this.env.databaseUrl,
      REDIS_URL: this.env.redisUrl,
      REDIS_PREFIX: this.env.redisPrefix,
      TRANSPORTER: this.env.transporter,
      KAFKA_BROKERS: this.env.kafkaBrokers,
      DATA_PLATFORM_URL: this.env.dataPlatformUrl,
      RATE_LIMIT_PER_MIN: "0",
      ...this.env.extra,
    };
    const runner = path.join(this.root, "node_modules/moleculer/bin/moleculer-runner.js");
    const child = new Child(spec.id, process.execPath, [runner, "--config", "dist/moleculer.config.js"], path.join(this.env.logDir, `${spec.id}.log`), { cwd: this.root, env });
    this.nodes.set(spec.id, { spec, child });
  }

  /** The gateway's view of the cluster: ids of the nodes it sees as available. */
  async gatewaySees(): Promise<string[]> {
    const list = (await this.observer!.call("$node.list", { onlyAvailable: true }, { nodeID: this.gatewayId, timeout: 2000 })) as Array<{ id: string; available: boolean }>;
    return list.filter((n) => n.available).map((n) => n.id);
  }

  /** Every node up, the gateway sees both workers, and routes the whole journey. */
  async waitReady(timeoutMs: number): Promise<number> {
    let last = "not probed yet";
    try {
      return await waitFor("the cluster to serve", async () => {
        for (const { spec, child } of this.nodes.values()) {
          if (!child.alive) throw new Error(`${spec.id} exited:\n${child.tail()}`);
        }
        const seen = await this.gatewaySees().catch(() => [] as string[]);
        const missing = this.workerIds.filter((id) => !seen.includes(id));
        const json = { "content-type": "application/json" };
        const probes = await Promise.all([
          fetch(`${this.apiUrl}/concerts`).then((r) => (r.status === 200 ? "" : `GET /concerts ${r.status}`)),
          fetch(`${this.apiUrl}/rankings/concerts`).then((r) => (r.status === 200 ? "" : `GET /rankings/concerts ${r.status}`)),
          fetch(`${this.apiUrl}/reservations`, { method: "POST", headers: json, body: "{}" }).then((r) => (r.status === 401 ? "" : `POST /reservations ${r.status}`)),
          fetch(`${this.apiUrl}/auth/dev-token`, { method: "POST", headers: json, body: '{"userId":"probe"}' }).then((r) => (r.status === 200 ? "" : `POST /auth/dev-token ${r.status}`)),
        ].map((p) => p.catch((err: Error) => err.message)));
        const problems = [...missing.map((id) => `gateway does not see ${id}`), ...probes.filter(Boolean)];
        last = problems.join(", ");
        return problems.length === 0;
      }, timeoutMs, 500);
    } catch (err) {
      throw new Error(`${(err as Error).message} (last: ${last})`);
    }
  }

  node(id: string): Child {
    const entry = this.nodes.get(id);
    if (!entry) throw new Error(`no node ${id}`);
    return entry.child;
  }

  async kill9(id: string): Promise<void> {
    await this.node(id).kill9();
  }

  async restartNode(id: string): Promise<void> {
    const entry = this.nodes.get(id);
    if (!entry) throw new Error(`no node ${id}`);
    await entry.child.stop();
    this.spawn(entry.spec);
  }

  async stop(): Promise<void> {
    await this.observer?.stop().catch(() => undefined);
    await Promise.all([...this.nodes.values()].map(({ child }) => child.stop(5000)));
  }
}
