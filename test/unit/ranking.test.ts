import { parseRanking, rankingKeys } from "../../modules/ranking/concert-ranking";
import { TitleCache } from "../../modules/ranking/title-cache";

describe("ranking keys and parsing", () => {
  it("puts every key under the prefix, with the one hash tag {rank}", () => {
    const keys = rankingKeys("p:");
    expect(keys.concerts).toBe("p:ranking:{rank}:concerts");
    expect(keys.counted(42)).toBe("p:ranking:{rank}:counted:42");
  });

  it("reads ZRANGE … WITHSCORES pairs in order", () => {
    expect(parseRanking(["7", "12", "3", "5"])).toEqual([
      { concertId: 7, soldSeats: 12 },
      { concertId: 3, soldSeats: 5 },
    ]);
    expect(parseRanking([])).toEqual([]);
  });
});

describe("TitleCache", () => {
  let now = 1_000;
  const clock = () => now;

  it("asks once per concert within the TTL, again after it", async () => {
    const cache = new TitleCache(60_000, 100, clock);
    const load = jest.fn(async (id: number) => `Concert ${id}`);
    expect(await cache.get(1, load)).toBe("Concert 1");
    expect(await cache.get(1, load)).toBe("Concert 1");
    expect(load).toHaveBeenCalledTimes(1);
    now += 60_001;
    expect(await cache.get(1, load)).toBe("Concert 1");
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("shares one lookup between concurrent misses", async () => {
    const cache = new TitleCache(60_000, 100, clock);
    let release!: (title: string) => void;
    const load = jest.fn(() => new Promise<string>((resolve) => (release = resolve)));
    const both = Promise.all([cache.get(2, load), cache.get(2, load)]);
    release("Two");
    expect(await both).toEqual(["Two", "Two"]);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("does not keep a failed lookup, but keeps a missing concert (null)", async () => {
    const cache = new TitleCache(60_000, 100, clock);
    await expect(cache.get(3, async () => Promise.reject(new Error("catalog down")))).rejects.toThrow("catalog down");
    expect(await cache.get(3, async () => "Three")).toBe("Three");
    const missing = jest.fn(async () => null);
    expect(await cache.get(4, missing)).toBeNull();
    expect(await cache.get(4, missing)).toBeNull();
    expect(missing).toHaveBeenCalledTimes(1);
  });

  it("stays bounded", async () => {
    const cache = new TitleCache(60_000, 2, clock);
    const load = jest.fn(async (id: number) => `C${id}`);
    for (const id of [1, 2, 3, 1]) await cache.get(id, load);
    expect(load).toHaveBeenCalledTimes(4); // the third entry cleared the map, so 1 was asked again
  });
});
