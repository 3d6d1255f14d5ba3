import Redis, { Cluster } from "ioredis";
import { catalogCacheKeys, versionsStaleAfter } from "../../modules/catalog/cache-keys";
import { ScheduleDirectory } from "../../modules/catalog/schedule-directory";
import { newVersion, type CacheRedis } from "../../modules/catalog/seat-map-cache";
import { SingleFlight } from "../../modules/catalog/single-flight";
import type { ScheduleView } from "../../modules/catalog/catalog-queries";

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
});

/** The hash tag of a key: the part Redis Cluster hashes (between the first `{` and the next `}`). */
const hashTag = (key: string) => /\{([^}]+)\}/.exec(key)?.[1];

describe("catalog cache keys", () => {
  it("names a version key and a data key for each cached read, under the prefix", () => {
    expect(catalogCacheKeys.seatMap("p:", 7)).toEqual({ version: "p:seatmap:{s7}:v", data: "p:seatmap:{s7}:data" });
    expect(catalogCacheKeys.schedules("p:", 3)).toEqual({ version: "p:schedules:{c3}:v", data: "p:schedules:{c3}:data" });
  });

  it("puts a read's version and data in one Redis Cluster slot (same hash tag), and different reads in different tags", () => {
    const reads = [1, 2, 12].flatMap((n) => [catalogCacheKeys.seatMap("p:", n), catalogCacheKeys.schedules("p:", n)]);
    for (const keys of reads) expect(hashTag(keys.version)).toBe(hashTag(keys.data));
    expect(new Set(reads.map((keys) => hashTag(keys.data))).size).toBe(reads.length);
  });

  it("a seat change makes that schedule's seat map and that concert's schedule list stale, nothing else", () => {
    expect(versionsStaleAfter("p:", { concertId: 3, scheduleId: 7 })).toEqual(["p:seatmap:{s7}:v", "p:schedules:{c3}:v"]);
  });
});

describe("cache versions", () => {
  it("never repeats a version token", () => {
    const versions = Array.from({ length: 10_000 }, () => newVersion());
    expect(new Set(versions).size).toBe(versions.length);
  });

  it("is written against what both a standalone Redis and a Cluster client offer", () => {
    const standalone = new Redis({ lazyConnect: true });
    const cluster = new Cluster([{ host: "127.0.0.1", port: 1 }], { lazyConnect: true });
    const clients: CacheRedis[] = [standalone, cluster]; // the type check is the point
    for (const client of clients) expect(typeof client.defineCommand).toBe("function");
    standalone.disconnect();
    cluster.disconnect();
  });
});

describe("ScheduleDirectory", () => {
  const schedule = (id: number): ScheduleView => ({ id, concertId: id * 10, startsAt: "2027-01-01T00:00:00.000Z", totalSeats: 5 });

  it("loads a schedule once and answers later lookups from memory", async () => {
    const load = jest.fn(async (id: number) => schedule(id));
    const directory = new ScheduleDirectory(load);
    const concurrent = await Promise.all([directory.get(1), directory.get(1), directory.get(1)]);
    expect(concurrent).toEqual([schedule(1), schedule(1), schedule(1)]);
    expect(await directory.get(1)).toEqual(schedule(1));
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("does not keep a failed lookup (a 404 now may be a schedule created a moment later)", async () => {
    let exists = false;
    const load = jest.fn(async (id: number) => {
      if (!exists) throw new Error("SCHEDULE_NOT_FOUND");
      return schedule(id);
    });
    const directory = new ScheduleDirectory(load);
    await expect(directory.get(4)).rejects.toThrow("SCHEDULE_NOT_FOUND");
    expect(directory.size).toBe(0);
    exists = true;
    await expect(directory.get(4)).resolves.toEqual(schedule(4));
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("is bounded: the least recently used schedule goes first", async () => {
    const load = jest.fn(async (id: number) => schedule(id));
    const directory = new ScheduleDirectory(load, 2);
    await directory.get(1);
    await directory.get(2);
    await directory.get(1); // 1 is now the most recently used
    await directory.get(3); // evicts 2
    expect(directory.size).toBe(2);
    load.mockClear();
    await directory.get(1);
    await directory.get(3);
    expect(load).not.toHaveBeenCalled();
    await directory.get(2);
    expect(load).toHaveBeenCalledWith(2);
  });
});
