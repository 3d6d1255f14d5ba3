/**
 * Redis Cluster readiness without a server: every key one script (or one lock acquisition) gets
 * carries the same hash tag, different concerts get different tags, and REDIS_CLUSTER_NODES is
 * validated. test/integration/redis-cluster.test.ts runs the same paths on a real cluster.
 */
import { loadConfig } from "../../lib/config";
import { hashTag, lockResources, taggedLockNames, untaggedLockName } from "../../mixins/redlock.mixin";
import { queueAdmitLeaseKey, queueConcertsKey, queueKeys } from "../../modules/queue/queue-keys";
import { rankingKeys } from "../../modules/ranking/concert-ranking";
import { seatIdsOfLockKeys, seatLockKeys } from "../../modules/reservations/reservation-rules";

const tags = (keys: string[]) => new Set(keys.map(hashTag));

describe("hash tags of the key layout", () => {
  it("reads a hash tag the way Redis does", () => {
    expect(hashTag("p:queue:{c42}:waiting")).toBe("c42");
    expect(hashTag("{a}{b}")).toBe("a");
    expect(hashTag("p:{}:x{y}")).toBe("p:{}:x{y}"); // an empty first tag: the whole key is hashed
    expect(hashTag("p:queue:concerts")).toBe("p:queue:concerts");
  });

  it("gives every key (and the channel) of one concert's queue the tag {c<id>}", () => {
    const keys = Object.values(queueKeys("p:", 42));
    expect(keys).toHaveLength(14);
    expect(tags(keys)).toEqual(new Set(["c42"]));
    expect(queueKeys("p:", 42).waiting).toBe("p:queue:{c42}:waiting");
    expect(hashTag(queueKeys("p:", 43).waiting)).toBe("c43");
    // The cross-concert keys stay untagged: only single-key commands touch them.
    expect(queueConcertsKey("p:")).toBe("p:queue:concerts");
    expect(queueAdmitLeaseKey("p:")).toBe("p:queue:admit-lease");
  });

  it("keeps every queue key under <prefix>queue: (what bench and test cleanup scan for)", () => {
    for (const key of Object.values(queueKeys("test:run:", 7))) expect(key.startsWith("test:run:queue:")).toBe(true);
  });

  it("puts every ranking key, markers included, under the one tag {rank}", () => {
    const k = rankingKeys("p:");
    expect(tags([k.concerts, k.counted(1), k.counted(999_999), k.refunded(5), k.complete, k.rebuildLease])).toEqual(new Set(["rank"]));
  });

  it("locks the seats of one hold under their schedule's tag and reports them without it", () => {
    const names = taggedLockNames("s7", seatLockKeys([12, 3, 9]));
    const keys = lockResources("p:", names);
    expect(keys).toEqual(["p:lock:{s7}:seat:12", "p:lock:{s7}:seat:3", "p:lock:{s7}:seat:9"]);
    expect(tags(keys)).toEqual(new Set(["s7"]));
    expect(seatIdsOfLockKeys(names.map(untaggedLockName))).toEqual([3, 9, 12]);
    expect(untaggedLockName("seat:4")).toBe("seat:4");
    expect(() => taggedLockNames("", ["seat:1"])).toThrow(RangeError);
    expect(() => taggedLockNames("a}b", ["seat:1"])).toThrow(RangeError);
  });
});

describe("REDIS_CLUSTER_NODES", () => {
  it("is empty by default (one Redis at REDIS_URL)", () => {
    expect(loadConfig({}).redisClusterNodes).toEqual([]);
    expect(loadConfig({ REDIS_CLUSTER_NODES: " " }).redisClusterNodes).toEqual([]);
  });

  it("reads a comma list of host:port, IPv6 in brackets", () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: "10.0.0.1:7000, redis-b:7001,[::1]:7002" }).redisClusterNodes).toEqual([
      { host: "10.0.0.1", port: 7000 },
      { host: "redis-b", port: 7001 },
      { host: "::1", port: 7002 },
    ]);
  });

  it.each(["redis-a", "redis-a:", "redis-a:0", "redis-a:70000", "a:7000,,b:7001", "redis://a:7000"])("refuses %p", (value) => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: value })).toThrow(/REDIS_CLUSTER_NODES must be a comma list of host:port/);
  });
});
