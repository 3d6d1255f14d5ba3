import { PositiveLookupCache } from "../../modules/queue/concert-check";

describe("positive lookup cache", () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => {
    now = 1_000;
  });

  it("shares one lookup among concurrent callers and remembers success for the TTL", async () => {
    const cache = new PositiveLookupCache<number>(500, clock);
    const lookup = jest.fn(async () => ({ id: 1 }));
    await Promise.all(Array.from({ length: 20 }, () => cache.ensure(1, lookup)));
    expect(lookup).toHaveBeenCalledTimes(1);
    now += 499;
    await cache.ensure(1, lookup);
    expect(lookup).toHaveBeenCalledTimes(1);
    now += 1;
    await cache.ensure(1, lookup);
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it("keeps keys apart", async () => {
    const cache = new PositiveLookupCache<number>(500, clock);
    const lookup = jest.fn(async () => undefined);
    await cache.ensure(1, lookup);
    await cache.ensure(2, lookup);
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it("does not remember failures", async () => {
    const cache = new PositiveLookupCache<number>(500, clock);
    const failing = jest.fn(async () => {
      throw new Error("not found");
    });
    await expect(Promise.all([cache.ensure(7, failing), cache.ensure(7, failing)])).rejects.toThrow("not found");
    expect(failing).toHaveBeenCalledTimes(1);
    await expect(cache.ensure(7, failing)).rejects.toThrow("not found");
    expect(failing).toHaveBeenCalledTimes(2);
    const ok = jest.fn(async () => undefined);
    await cache.ensure(7, ok);
    expect(ok).toHaveBeenCalledTimes(1);
  });

  it("stays bounded: drops expired entries first, everything if it must", async () => {
    const cache = new PositiveLookupCache<number>(500, clock, 3);
    const size = () => (cache as unknown as { entries: Map<number, unknown> }).entries.size;
    const lookup = jest.fn(async () => undefined);
    for (const key of [1, 2, 3]) await cache.ensure(key, lookup);
    now += 1_000;
    await cache.ensure(4, lookup);
    expect(size()).toBe(1);
    for (let key = 10; key < 30; key++) {
      await cache.ensure(key, lookup);
      expect(size()).toBeLessThanOrEqual(3);
    }
  });
});
