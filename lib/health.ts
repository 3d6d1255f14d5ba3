import { Kafka, logLevel, type Admin } from "kafkajs";
import { Pool } from "pg";
import type { ServiceBroker } from "moleculer";
import { isCluster, type RedisClient } from "../mixins/redis.mixin";

export type ComponentState = "up" | "down";
export interface NodeView {
  id: string;
  available: boolean;
  local: boolean;
}
export interface HealthReport {
  status: "ok" | "degraded";
  checks: { postgres: ComponentState; redis: ComponentState; nats: ComponentState; kafka: ComponentState };
  nodes: NodeView[];
  /** For each service the API needs: how many live nodes serve it. */
  services: Record<string, number>;
}

/** The services behind the public API; health is degraded while one of them has no live node. */
export const REQUIRED_SERVICES = ["auth", "catalog", "queue", "reservations", "points", "payments", "ranking"] as const;

interface RegistryView {
  getNodeList(opts: { onlyAvailable: boolean; withServices: boolean }): Array<{ id: string; available: boolean; local: boolean }>;
  getServiceList(opts: { onlyAvailable: boolean; skipInternal: boolean }): Array<{ name: string; nodeID: string }>;
}

/** Live nodes and per-service node counts, from the broker's local registry (no network). */
export function registryView(broker: ServiceBroker, required: readonly string[] = REQUIRED_SERVICES): Pick<HealthReport, "nodes" | "services"> {
  const registry = (broker as unknown as { registry: RegistryView }).registry;
  const nodes = registry
    .getNodeList({ onlyAvailable: false, withServices: false })
    .map((node) => ({ id: node.id, available: node.available, local: node.local }));
  const serving = new Map<string, Set<string>>(required.map((name) => [name, new Set<string>()]));
  for (const service of registry.getServiceList({ onlyAvailable: true, skipInternal: true })) {
    serving.get(service.name)?.add(service.nodeID);
  }
  const services: Record<string, number> = {};
  for (const [name, nodeIds] of serving) services[name] = nodeIds.size;
  return { nodes, services };
}

const CHECK_TIMEOUT_MS = 2000;

function withTimeout<T>(work: Promise<T>, ms = CHECK_TIMEOUT_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

async function probe(check: () => Promise<unknown>): Promise<ComponentState> {
  try {
    await withTimeout(check());
    return "up";
  } catch {
    return "down";
  }
}

/**
 * PING of the system's Redis; on a Redis Cluster every master is asked (each holds a share of the
 * slots, so one master down means some concerts' queues are down) and the cluster must be ready.
 */
async function pingRedis(redis: RedisClient): Promise<void> {
  if (!isCluster(redis)) {
    await redis.ping();
    return;
  }
  if (redis.status !== "ready") throw new Error(`Redis Cluster is ${redis.status}`);
  const masters = redis.nodes("master");
  if (masters.length === 0) throw new Error("Redis Cluster has no master");
  await Promise.all(masters.map((node) => node.ping()));
}

/** Really asks each component: a query, a PING, the transporter's state, Kafka's metadata. */
export class HealthChecker {
  private readonly pool: Pool;
  private readonly kafkaAdmin: Admin;
  private kafkaConnected = false;

  constructor(
    databaseUrl: string,
    kafkaBrokers: string[],
    private readonly redis: RedisClient,
    private readonly broker: ServiceBroker,
  ) {
    this.pool = new Pool({ connectionString: databaseUrl, max: 1, connectionTimeoutMillis: CHECK_TIMEOUT_MS });
    this.pool.on("error", () => undefined); // a dropped idle connection is reported by the next check
    const kafka = new Kafka({
      clientId: "health-check",
      brokers: kafkaBrokers,
      connectionTimeout: 1000,
      requestTimeout: CHECK_TIMEOUT_MS,
      retry: { retries: 0 },
      logLevel: logLevel.NOTHING,
    });
    this.kafkaAdmin = kafka.admin();
  }

  async check(): Promise<HealthReport> {
    const [postgres, redis, nats, kafka] = await Promise.all([
      probe(() => this.pool.query("select 1")),
      probe(() => pingRedis(this.redis)),
      probe(async () => {
        const transit = (this.broker as unknown as { transit?: { connected: boolean } }).transit;
        if (!transit || !transit.connected) throw new Error("transporter not connected");
      }),
      probe(() => this.kafkaMetadata()),
    ]);
    const checks = { postgres, redis, nats, kafka };
    const { nodes, services } = registryView(this.broker);
    const healthy = Object.values(checks).every((state) => state === "up") && Object.values(services).every((count) => count > 0);
    return { status: healthy ? "ok" : "degraded", checks, nodes, services };
  }

  private async kafkaMetadata(): Promise<void> {
    try {
      if (!this.kafkaConnected) {
        await this.kafkaAdmin.connect();
        this.kafkaConnected = true;
      }
      await this.kafkaAdmin.describeCluster();
    } catch (err) {
      this.kafkaConnected = false;
      await this.kafkaAdmin.disconnect().catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.end().catch(() => undefined), this.kafkaAdmin.disconnect().catch(() => undefined)]);
  }
}
