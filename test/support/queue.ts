import type { ServiceBroker } from "moleculer";

/**
 * An ACTIVE queue token for `userId` and `concertId`, through the queue service's own actions:
 * enter, then run admission ticks until the user is admitted. Needs the queue service on a node
 * of this test's namespace.
 */
export async function activeQueueToken(broker: ServiceBroker, userId: string, concertId: number): Promise<string> {
  const meta = { user: { id: userId } };
  const entry = await broker.call<{ token: string; status: string }, { concertId: number }>(
    "queue.enter",
    { concertId },
    { meta },
  );
  for (let attempt = 0; attempt < 50; attempt++) {
    const status = await broker.call<{ status: string }, Record<string, never>>("queue.status", {}, {
      meta: { ...meta, queueToken: entry.token },
    });
    if (status.status === "ACTIVE") return entry.token;
    await broker.call("queue.admitTick");
  }
  throw new Error(`user ${userId} was never admitted to concert ${concertId}`);
}
