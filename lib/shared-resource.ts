import type { ServiceBroker } from "moleculer";

/**
 * One resource (ORM, Redis client, Kafka client) per broker, shared by every service of that
 * broker and closed when the last of them stops. Without this each service would open its own
 * connection pool.
 */
interface Entry<T> {
  value: Promise<T>;
  refs: number;
  close: (value: T) => Promise<void>;
}

const registry = new WeakMap<ServiceBroker, Map<string, Entry<unknown>>>();

export function acquireShared<T>(
  broker: ServiceBroker,
  name: string,
  open: () => Promise<T>,
  close: (value: T) => Promise<void>,
): Promise<T> {
  let entries = registry.get(broker);
  if (!entries) {
    entries = new Map();
    registry.set(broker, entries);
  }
  let entry = entries.get(name) as Entry<T> | undefined;
  if (!entry) {
    const value = open();
    entry = { value, refs: 0, close };
    entries.set(name, entry as Entry<unknown>);
    // A failed open must not stay cached for the next service that asks.
    value.catch(() => entries.delete(name));
  }
  entry.refs += 1;
  return entry.value;
}

export async function releaseShared(broker: ServiceBroker, name: string): Promise<void> {
  const entries = registry.get(broker);
  const entry = entries?.get(name);
  if (!entries || !entry) return;
  entry.refs -= 1;
  if (entry.refs > 0) return;
  entries.delete(name);
  const value = await entry.value.catch(() => undefined);
  if (value !== undefined) await entry.close(value);
}
