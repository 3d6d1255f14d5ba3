/**
 * The Redlock mixin on its own, against the real Redis (127.0.0.1:6379), with a tiny service whose
 * handlers wait on gates the test opens. Keys live under a prefix of this file's own.
 */
import { randomBytes } from "node:crypto";
import { ServiceBroker, type Context, type ServiceSchema } from "moleculer";
import Redis from "ioredis";
import { getConfig, resetConfig } from "../../lib/config";
import { RedlockMixin, heldLocks, lockResources, type HeldLocks } from "../../mixins/redlock.mixin";

const PREFIX = `test:redlock-${randomBytes(4).toString("hex")}:`;
process.env.REDIS_PREFIX = PREFIX;
resetConfig();

interface Gate {
  entered: Promise<void>;
  release: () => void;
  enter: () => void;
  open: Promise<void>;
}

const gates = new Map<string, Gate>();

function gate(id: string): Gate {
  let enter!: () => void;
  let release!: () => void;
  const entered = new Promise<void>((r) => (enter = r));
  const open = new Promise<void>((r) => (release = r));
  const created = { entered, enter, open, release };
  gates.set(id, created);
  return created;
}

let lockingEnabled = true;
const SHORT_TTL_MS = 200;

type Params = { id: string; keys: string[] };

/** Each action waits on the gate named by `id`, then reports the locks of its call. */
const LockProbe: ServiceSchema = {
  name: "lockProbe",
  mixins: [RedlockMixin({ enabled: () => lockingEnabled })],
  actions: {
    hold: {
      params: { id: "string", keys: { type: "array", items: "string" } },
      lock: { keys: (ctx: Context<Params>) => ctx.params.keys },
      async handler(ctx: Context<Params>) {
        const g = gates.get(ctx.params.id);
        g?.enter();
        await g?.open;
        return { ...heldLocks(ctx) };
      },
    },
    holdShortLease: {
      params: { id: "string", keys: { type: "array", items: "string" } },
      lock: { keys: (ctx: Context<Params>) => ctx.params.keys, ttl: SHORT_TTL_MS },
      async handler(ctx: Context<Params>) {
        const g = gates.get(ctx.params.id);
        g?.enter();
        await g?.open;
        return { ...heldLocks(ctx) };
      },
    },
    fail: {
      params: { keys: { type: "array", items: "string" } },
      lock: { keys: (ctx: Context<Params>) => ctx.params.keys },
      handler() {
        throw new Error("handler failed");
      },
    },
    unlocked: {
      params: {},
      handler: (ctx: Context) => ({ locks: heldLocks(ctx) ?? null }),
    },
  },
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("RedlockMixin (real Redis)", () => {
  let broker: ServiceBroker;
  let redis: Redis;
  const key = (name: string) => `${PREFIX}lock:${name}`;

  beforeAll(async () => {
    redis = new Redis(getConfig().redisUrl);
    broker = new ServiceBroker({ logger: false, transporter: undefined, nodeID: "redlock-unit" });
    broker.createService(LockProbe);
    await broker.start();
  });

  afterAll(async () => {
    await broker.stop();
    const keys = await redis.keys(`${PREFIX}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  beforeEach(() => {
    lockingEnabled = true;
  });

  it("names lock keys under the prefix, deduplicated and sorted", () => {
    expect(lockResources("p:", ["seat:9", "seat:10", "seat:9", "seat:1"])).toEqual(["p:lock:seat:1", "p:lock:seat:10", "p:lock:seat:9"]);
    expect(lockResources("p:", [])).toEqual([]);
  });

  it("answers 409 SEAT_UNAVAILABLE at once while another call holds a key, then lets the next one in", async () => {
    const first = gate("contention-1");
    const running = broker.call<HeldLocks, Params>("lockProbe.hold", { id: "contention-1", keys: ["seat:1"] });
    await first.entered;
    expect(await redis.pttl(key("seat:1"))).toBeGreaterThan(0);

    await expect(broker.call("lockProbe.hold", { id: "none", keys: ["seat:1"] })).rejects.toMatchObject({
      code: 409,
      type: "SEAT_UNAVAILABLE",
      data: { locks: ["seat:1"] },
    });

    first.release();
    await expect(running).resolves.toEqual({ keys: [key("seat:1")], lost: false });
    expect(await redis.exists(key("seat:1"))).toBe(0);
    await expect(broker.call("lockProbe.hold", { id: "none", keys: ["seat:1"] })).resolves.toMatchObject({ lost: false });
  });

  it("takes all keys of a call in one acquisition: all or nothing, whatever the order", async () => {
    const first = gate("multi-1");
    const running = broker.call<HeldLocks, Params>("lockProbe.hold", { id: "multi-1", keys: ["seat:3", "seat:2", "seat:2"] });
    await first.entered;
    expect(await redis.exists(key("seat:2"), key("seat:3"))).toBe(2);

    // Overlaps on seat:3 only: refused, and seat:4 must not be left locked by the failed attempt.
    await expect(broker.call("lockProbe.hold", { id: "none", keys: ["seat:4", "seat:3"] })).rejects.toMatchObject({ code: 409 });
    expect(await redis.exists(key("seat:4"))).toBe(0);
    // Disjoint keys are not blocked.
    await expect(broker.call("lockProbe.hold", { id: "none", keys: ["seat:4", "seat:5"] })).resolves.toMatchObject({
      keys: [key("seat:4"), key("seat:5")],
    });

    first.release();
    await expect(running).resolves.toEqual({ keys: [key("seat:2"), key("seat:3")], lost: false });
    expect(await redis.exists(key("seat:2"), key("seat:3"))).toBe(0);
  });

  it("never lets two of many parallel calls hold the same key", async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `parallel-${i}`);
    const opened = ids.map(gate);
    let entered = 0;
    opened.forEach((g) => g.entered.then(() => (entered += 1)));
    let settled = 0;
    const calls = ids.map((id) =>
      broker
        .call("lockProbe.hold", { id, keys: ["seat:6"] })
        .then(() => "ok", (err) => err.type)
        .finally(() => (settled += 1)),
    );
    // The winner waits at its gate; every other call must be refused meanwhile.
    for (let i = 0; i < 200 && settled < ids.length - 1; i++) await sleep(25);
    expect(settled).toBe(ids.length - 1);
    expect(entered).toBe(1);
    opened.forEach((g) => g.release());
    const results = await Promise.all(calls);
    expect(results.filter((r) => r === "ok")).toHaveLength(1);
    expect(results.filter((r) => r === "SEAT_UNAVAILABLE")).toHaveLength(49);
  });

  it("releases the lock when the handler throws, and passes the error on", async () => {
    await expect(broker.call("lockProbe.fail", { keys: ["seat:7"] })).rejects.toThrow("handler failed");
    expect(await redis.exists(key("seat:7"))).toBe(0);
    await expect(broker.call("lockProbe.hold", { id: "none", keys: ["seat:7"] })).resolves.toMatchObject({ lost: false });
  });

  it("renews the lease of a handler that runs much longer than the TTL", async () => {
    const slow = gate("slow-1");
    const running = broker.call<HeldLocks, Params>("lockProbe.holdShortLease", { id: "slow-1", keys: ["seat:8"] });
    await slow.entered;
    await sleep(SHORT_TTL_MS * 4);
    expect(await redis.pttl(key("seat:8"))).toBeGreaterThan(0);
    await expect(broker.call("lockProbe.hold", { id: "none", keys: ["seat:8"] })).rejects.toMatchObject({ code: 409 });
    slow.release();
    await expect(running).resolves.toEqual({ keys: [key("seat:8")], lost: false });
    expect(await redis.exists(key("seat:8"))).toBe(0);
  });

  it("marks the call lost when the lease cannot be renewed, and does not delete someone else's lock", async () => {
    const victim = gate("lost-1");
    const running = broker.call<HeldLocks, Params>("lockProbe.holdShortLease", { id: "lost-1", keys: ["seat:9"] });
    await victim.entered;
    // Simulate the lease running out and another owner taking the key.
    await redis.set(key("seat:9"), "someone-else", "PX", 60_000);
    await sleep(SHORT_TTL_MS * 2);
    victim.release();
    await expect(running).resolves.toEqual({ keys: [key("seat:9")], lost: true });
    expect(await redis.get(key("seat:9"))).toBe("someone-else");
    await redis.del(key("seat:9"));
  });

  it("takes no lock at all when switched off", async () => {
    lockingEnabled = false;
    const a = gate("off-1");
    const b = gate("off-2");
    const first = broker.call("lockProbe.hold", { id: "off-1", keys: ["seat:10"] });
    const second = broker.call("lockProbe.hold", { id: "off-2", keys: ["seat:10"] });
    await Promise.all([a.entered, b.entered]);
    expect(await redis.exists(key("seat:10"))).toBe(0);
    a.release();
    b.release();
    // No lock, so no lock state either.
    await expect(first).resolves.toEqual({});
    await expect(second).resolves.toEqual({});
  });

  it("leaves actions without `lock` alone", async () => {
    await expect(broker.call("lockProbe.unlocked", {})).resolves.toEqual({ locks: null });
  });

  // Last: it closes the service's Redis connection.
  it("answers 503 rather than 409 when Redis itself cannot be reached", async () => {
    const service = broker.getLocalService("lockProbe") as unknown as { redis: Redis };
    service.redis.disconnect();
    await expect(broker.call("lockProbe.hold", { id: "none", keys: ["seat:11"] })).rejects.toMatchObject({
      code: 503,
      type: "SERVICE_UNAVAILABLE",
    });
  });
});
