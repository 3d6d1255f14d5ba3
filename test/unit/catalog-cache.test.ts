import { catalogCacheKeys, keysStaleAfter } from "../../modules/catalog/cache-keys";
import { SingleFlight } from "../../modules/catalog/single-flight";

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("SingleFlight", () => {
  it("runs one load for many concurrent callers of the same key and gives all of them its result", async () => {
    const flights = new SingleFlight<string>();
    const gate = deferred<string>();
    const load = jest.fn(() => gate.promise);
    const callers = Array.from({ length: 50 }, () => flights.run("k", load));
    expect(flights.size).toBe(1);
    gate.resolve("value");
    await expect(Promise.all(callers)).resolves.toEqual(Array(50).fill("value"));
    expect(load).toHaveBeenCalledTimes(1);
    expect(flights.size).toBe(0);
  });

  it("keeps different keys apart", async () => {
    const flights = new SingleFlight<string>();
    const load = jest.fn(async () => "x");
    await Promise.all([flights.run("a", load), flights.run("b", load), flights.run("a", load)]);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("starts a new load once the previous one finished (it caches nothing itself)", async () => {
    const flights = new SingleFlight<number>();
    let calls = 0;
    const load = async () => ++calls;
    expect(await flights.run("k", load)).toBe(1);
    expect(await flights.run("k", load)).toBe(2);
  });

  it("hands a failure to every waiting caller and then forgets it", async () => {
    const flights = new SingleFlight<string>();
    const gate = deferred<string>();
    const first = flights.run("k", () => gate.promise);
    const second = flights.run("k", async () => "never");
    gate.reject(new Error("db down"));
    await expect(first).rejects.toThrow("db down");
    await expect(second).rejects.toThrow("db down");
    await expect(flights.run("k", async () => "recovered")).resolves.toBe("recovered");
  });

  it("turns a load that throws synchronously into a rejection", async () => {
    const flights = new SingleFlight<string>();
    await expect(
      flights.run("k", () => {
        throw new Error("sync");
      }),
    ).rejects.toThrow("sync");
    expect(flights.size).toBe(0);
  });

  it("after forget(), new callers start their own load and the old one does not evict it", async () => {
    const flights = new SingleFlight<string>();
    const old = deferred<string>();
    const fresh = deferred<string>();
    const before = flights.run("k", () => old.promise);
    flights.forget("k");
    const after = flights.run("k", () => fresh.promise);
    const joined = flights.run("k", async () => "unused");
    old.resolve("old");
    await expect(before).resolves.toBe("old");
    // The finished old flight must not have removed the fresh one.
    expect(flights.size).toBe(1);
    fresh.resolve("new");
    await expect(after).resolves.toBe("new");
    await expect(joined).resolves.toBe("new");
  });
});

describe("catalog cache keys", () => {
  it("names each cached read explicitly", () => {
    expect(catalogCacheKeys.seatMap(7)).toBe("catalog.seatMap:7");
    expect(catalogCacheKeys.schedules(3)).toBe("catalog.schedules:3");
    expect(catalogCacheKeys.schedule(7)).toBe("catalog.schedule:7");
  });

  it("a seat change makes that schedule's seat map and that concert's schedule list stale, nothing else", () => {
    expect(keysStaleAfter({ concertId: 3, scheduleId: 7 })).toEqual(["catalog.seatMap:7", "catalog.schedules:3"]);
  });

  it("never gives two different reads the same key", () => {
    const keys = [1, 2, 12].flatMap((n) => [catalogCacheKeys.seatMap(n), catalogCacheKeys.schedules(n), catalogCacheKeys.schedule(n)]);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
