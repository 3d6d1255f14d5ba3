import type { AddressInfo } from "node:net";
import { ServiceBroker, type BrokerOptions, type ServiceSchema } from "moleculer";
import { getConfig } from "../../lib/config";
import { brokerOptions } from "../../lib/broker-options";

/** A broker node of the system under test, on the real NATS transporter of this test file's namespace. */
export type AnyServiceSchema = ServiceSchema<any, any, any, any>;

export async function startNode(
  services: AnyServiceSchema[],
  overrides: Partial<BrokerOptions> = {},
): Promise<ServiceBroker> {
  const broker = new ServiceBroker(brokerOptions(getConfig(), overrides));
  for (const schema of services) broker.createService(schema as ServiceSchema);
  await broker.start();
  return broker;
}

/** The base URL of the gateway a node runs (started on a free port). */
export function apiUrl(broker: ServiceBroker): string {
  const api = broker.getLocalService("api") as unknown as { server: { address(): AddressInfo } };
  return `http://127.0.0.1:${api.server.address().port}/api`;
}

export async function stopNodes(...brokers: Array<ServiceBroker | undefined>): Promise<void> {
  await Promise.all(brokers.map((broker) => broker?.stop()));
}

/**
 * moleculer-web builds REST aliases from the services it sees, debounced after each change; wait
 * until the gateway on `broker` routes every one of `actions` (local or on other nodes).
 */
export async function waitForApiAliases(broker: ServiceBroker, actions: string[], timeoutMs = 15_000): Promise<void> {
  const api = broker.getLocalService("api") as unknown as { aliases: Array<{ action?: string }> };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const routed = new Set(api.aliases.map((alias) => alias.action));
    if (actions.every((action) => routed.has(action))) return;
    if (Date.now() > deadline) throw new Error(`Gateway never routed: ${actions.filter((a) => !routed.has(a)).join(", ")}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
