import { applyStreamEvent, parseStreamEvent, streamView, type ConcertClock, type StreamPosition } from "../../modules/queue/stream-state";
import { cryptoShuffle } from "../../modules/queue/pre-queue-open";
import { retryAfterSeconds } from "../../modules/queue/queue-view";
import { ConcertWindowCache, entryWindowsOf } from "../../modules/queue/concert-windows";

const waiting = (position: number, score: number, v = 5): StreamPosition => ({ status: "WAITING", position, score, expiresAtMs: null, v });
const round = (v: number, hi: number, n: number, reaped: Array<[string, number]> = []) =>
  ({ t: "round", v, hi, n, exp: 9_000, now: 1_000, wa: n, wo: 1_000, iv: 1000, rb: n, r: reaped }) as const;

describe("stream state: positions derived from published events", () => {
  it("a round moves a waiting user forward by the admitted and the reaped ahead, and admits those within the range", () => {
    const me = waiting(10, 110);
    expect(applyStreamEvent(me, "me", round(6, 103, 3, [["x", 104], ["y", 200]]))).toEqual({ ...me, v: 6, position: 6 });
    expect(applyStreamEvent(me, "me", round(6, 115, 10))).toEqual({ status: "ACTIVE", position: 0, score: null, expiresAtMs: 9_000, v: 6 });
    expect(applyStreamEvent(me, "me", round(6, 100, 0, [["me", 110]]))).toMatchObject({ status: "EXPIRED", position: null });
  });

  it("ignores an event already contained in the state (not newer than its version)", () => {
    const me = waiting(10, 110, 7);
    expect(applyStreamEvent(me, "me", round(7, 103, 3))).toBe(me);
    expect(applyStreamEvent(me, "me", round(5, 115, 10))).toBe(me);
  });

  it("a leave ahead moves the user forward by one; behind changes nothing; their own leave is EXPIRED", () => {
    const me = waiting(10, 110);
    expect(applyStreamEvent(me, "me", { t: "left", v: 6, u: "a", s: 50, w: 1 }).position).toBe(9);
    expect(applyStreamEvent(me, "me", { t: "left", v: 6, u: "b", s: 150, w: 1 }).position).toBe(10);
    expect(applyStreamEvent(me, "me", { t: "left", v: 6, u: "c", s: -1, w: 0 }).position).toBe(10);
    expect(applyStreamEvent(me, "me", { t: "left", v: 6, u: "me", s: 110, w: 1 }).status).toBe("EXPIRED");
  });

  it("parses what the Lua scripts publish (cjson encodes an empty list as {})", () => {
    expect(parseStreamEvent('{"t":"round","v":3,"hi":5,"n":1,"exp":1,"now":1,"wa":1,"wo":1,"iv":1000,"rb":1,"r":{}}')).toMatchObject({ t: "round", r: [] });
    expect(parseStreamEvent('{"t":"open","v":4}')).toEqual({ t: "open", v: 4 });
    expect(parseStreamEvent("not json")).toBeNull();
    expect(parseStreamEvent('{"t":"left","v":1}')).toBeNull();
  });

  it("views: PRE_QUEUE counts down to the opening on the Redis clock, WAITING has an ETA", () => {
    const clock: ConcertClock = { nowMs: 0, offsetMs: 500, window: { admitted: 0, oldestRoundMs: null }, rates: { admitIntervalMs: 1000, fallbackRate: 2 }, saleOpensMs: 10_500 };
    expect(streamView({ status: "PRE_QUEUE", position: null, score: null, expiresAtMs: null, v: 0 }, clock, 0)).toEqual({
      status: "PRE_QUEUE",
      position: null,
      etaSeconds: 10,
      expiresAt: null,
    });
    expect(streamView(waiting(9, 1), clock, 0)).toEqual({ status: "WAITING", position: 9, etaSeconds: 5, expiresAt: null });
  });
});

describe("cryptoShuffle", () => {
  it("draws every permutation of three about equally often", () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 6000; i++) {
      const key = cryptoShuffle(["a", "b", "c"]).join("");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    for (const count of counts.values()) expect(Math.abs(count - 1000)).toBeLessThan(150);
  });
});

describe("Retry-After of a status poll", () => {
  const view = (status: "WAITING" | "PRE_QUEUE" | "ACTIVE" | "EXPIRED", etaSeconds: number | null) => ({ status, position: 1, etaSeconds, expiresAt: null });
  it("grows with the distance to the front: about 1 s near it, at most 20 s far back", () => {
    expect(retryAfterSeconds(view("WAITING", 1))).toBe(1);
    expect(retryAfterSeconds(view("WAITING", 60))).toBe(6);
    expect(retryAfterSeconds(view("WAITING", 3600))).toBe(20);
    expect(retryAfterSeconds(view("PRE_QUEUE", 95))).toBe(10);
  });
  it("stays under a quarter of the idle time, and is absent when there is nothing to wait for", () => {
    expect(retryAfterSeconds(view("WAITING", 3600), 40)).toBe(10);
    expect(retryAfterSeconds(view("ACTIVE", 0))).toBeNull();
    expect(retryAfterSeconds(view("EXPIRED", null))).toBeNull();
  });
});

describe("ConcertWindowCache", () => {
  it("shares one lookup, keeps it for its TTL, and forgets failures", async () => {
    let now = 0;
    const cache = new ConcertWindowCache(2000, () => now);
    let calls = 0;
    const lookup = async () => {
      calls++;
      return { queueOpensAt: "2030-01-01T00:00:00.000Z", saleOpensAt: null };
    };
    const [a, b] = await Promise.all([cache.get(1, lookup), cache.get(1, lookup)]);
    expect(a).toEqual({ queueOpensMs: Date.parse("2030-01-01T00:00:00.000Z"), saleOpensMs: null });
    expect(b).toBe(a);
    expect(calls).toBe(1);
    now = 2500;
    await cache.get(1, lookup);
    expect(calls).toBe(2);
    await expect(cache.get(2, () => Promise.reject(new Error("404")))).rejects.toThrow("404");
    await cache.get(2, lookup);
    expect(calls).toBe(3);
    expect(entryWindowsOf({})).toEqual({ queueOpensMs: null, saleOpensMs: null });
  });
});
