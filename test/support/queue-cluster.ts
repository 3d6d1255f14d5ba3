import type Redis from "ioredis";
import type { ServiceBroker } from "moleculer";
import { createRedisClient } from "../../mixins/redis.mixin";
import CatalogService from "../../services/catalog.service";
import QueueService from "../../services/queue.service";
import { startNode, stopNodes } from "./nodes";
import { eventually } from "./queue-redis";

/** Two queue nodes (the first with the catalog), a client node that sees both, and a Redis client. */
export interface QueueCluster {
  nodeA: ServiceBroker;
  nodeB: ServiceBroker;
  client: ServiceBroker;
  redis: Redis;
}

/** Starts the cluster once the test file set its environment (node ids `<name>-a`, `-b`, `-client`). */
export async function startQueueCluster(name: string): Promise<QueueCluster> {
  const nodeA = await startNode([CatalogService, QueueService], { nodeID: `${name}-a` });
  const nodeB = await startNode([QueueService], { nodeID: `${name}-b` });
  const client = await startNode([], { nodeID: `${name}-client` });
  await client.waitForServices(["queue", "catalog"]);
  await eventually(async () => client.registry.getActionEndpoints("queue.admitTick")?.count() === 2, "both queue nodes seen");
  return { nodeA, nodeB, client, redis: createRedisClient() };
}

export async function stopQueueCluster(cluster: Partial<QueueCluster>): Promise<void> {
  cluster.redis?.disconnect();
  await stopNodes(cluster.client, cluster.nodeB, cluster.nodeA);
}
