import type Redis from "ioredis";
import type { Context, ServiceBroker } from "moleculer";

/**
 * Everything the queue keeps in Redis (keys under `<prefix>queue:`), with contents, in a stable
 * form: compare two snapshots to prove a request wrote nothing.
 */
export async function queueSnapshot(redis: Redis, prefix: string): Promise<Record<string, unknown>> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}queue:*`, "COUNT", 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  const snapshot: Record<string, unknown> = {};
  for (const key of keys.sort()) {
    const type = await redis.type(key);
    if (type === "zset") snapshot[key] = await redis.zrange(key, 0, -1, "WITHSCORES");
    else if (type === "hash") snapshot[key] = await redis.hgetall(key);
    else if (type === "set") snapshot[key] = (await redis.smembers(key)).sort();
    else if (type === "string") snapshot[key] = await redis.get(key);
    else snapshot[key] = type;
  }
  return snapshot;
}

/** A broker call that also reports the HTTP status the action set in ctx.meta.$statusCode. */
export async function callWithStatus<T>(
  broker: ServiceBroker,
  action: string,
  params: unknown,
  meta: Record<string, unknown>,
): Promise<{ body: T; statusCode: number | undefined }> {
  const pending = broker.call(action, params, { meta }) as Promise<T> & { ctx: Context<unknown, { $statusCode?: number }> };
  const body = await pending;
  return { body, statusCode: pending.ctx.meta.$statusCode };
}

/** Polls `check` until it returns true (for effects of events, which arrive asynchronously). */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
