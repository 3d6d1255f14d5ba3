import { QueueControlCache } from "../../modules/queue/queue-control-cache";
import {
  admissionPolicyOf,
  admitWake,
  controlsTtlMs,
  effectiveControls,
  MAX_ADMIT_SLEEP_MS,
  minElapsedMs,
  nodeTickMs,
  patchOf,
  patchProblem,
  queuePhase,
  rateSettingsOf,
  type StoredControls,
} from "../../modules/queue/queue-control-rules";

const defaults = { admitBatch: 100, admitIntervalMs: 1000, activeMax: 1000 };

describe("queue controls: effective values", () => {
  it("uses the environment default for a missing row and for each null field", () => {
    expect(effectiveControls(undefined, defaults)).toEqual({ paused: false, ...defaults });
    expect(effectiveControls({ paused: true, admitBatch: 5, admitIntervalMs: null, activeMax: null }, defaults)).toEqual({
      paused: true,
      admitBatch: 5,
      admitIntervalMs: 1000,
      activeMax: 1000,
    });
  });

  it("a paused concert's round admits nobody but keeps its other settings", () => {
    const paused = effectiveControls({ paused: true, admitBatch: 7, admitIntervalMs: 500, activeMax: 9 }, defaults);
    expect(admissionPolicyOf(paused, 60_000)).toEqual({ batch: 0, activeMax: 9, activeTtlMs: 60_000, rateWindowMs: 60_000 });
    expect(admissionPolicyOf({ ...paused, paused: false }, 60_000).batch).toBe(7);
    // The ETA falls back to the concert's own rate, not the environment's.
    expect(rateSettingsOf({ ...paused, paused: false })).toEqual({ admitIntervalMs: 500, fallbackRate: 14 });
  });

  it("keeps only the control fields that a PATCH body sets (null included)", () => {
    expect(patchOf({ id: 3, paused: false, activeMax: null, admitBatch: undefined })).toEqual({ paused: false, activeMax: null });
    expect(patchOf({ id: 3 })).toEqual({});
  });

  it("refuses an empty PATCH and a null pause (numbers may be reset to the default with null)", () => {
    expect(patchProblem({})).toMatchObject({ field: "body" });
    expect(patchProblem({ paused: null as unknown as boolean })).toMatchObject({ field: "paused" });
    expect(patchProblem({ activeMax: null })).toBeNull();
    expect(patchProblem({ paused: false })).toBeNull();
  });
});

describe("queue controls: phase", () => {
  const now = Date.parse("2026-12-03T10:00:00Z");
  it("is OPEN when both windows are null or past", () => {
    expect(queuePhase({ queueOpensAt: null, saleOpensAt: null }, now)).toBe("OPEN");
    expect(queuePhase({}, now)).toBe("OPEN");
    expect(queuePhase({ queueOpensAt: "2026-12-03T09:00:00Z", saleOpensAt: "2026-12-03T10:00:00Z" }, now)).toBe("OPEN");
  });
  it("is CLOSED before queueOpensAt and PRE_QUEUE until saleOpensAt", () => {
    expect(queuePhase({ queueOpensAt: "2026-12-03T10:00:00.001Z", saleOpensAt: "2026-12-03T11:00:00Z" }, now)).toBe("CLOSED");
    expect(queuePhase({ queueOpensAt: "2026-12-03T09:59:59Z", saleOpensAt: "2026-12-03T11:00:00Z" }, now)).toBe("PRE_QUEUE");
    expect(queuePhase({ queueOpensAt: null, saleOpensAt: new Date(now + 1) }, now)).toBe("PRE_QUEUE");
  });
});

describe("queue controls: timing of admission rounds", () => {
  const controls = (admitIntervalMs: number) => ({ paused: false, admitBatch: 1, admitIntervalMs, activeMax: 10 });

  it("ticks at the shortest interval among the queued concerts, never slower than the default", () => {
    expect(nodeTickMs(1000, [])).toBe(1000);
    expect(nodeTickMs(1000, [controls(3000), controls(250)])).toBe(250);
    expect(nodeTickMs(200, [controls(3000)])).toBe(200);
  });

  it("runs a concert's round only when its own interval has (almost) passed", () => {
    // A 3 s concert on a 1 s tick: the round at 2 s is skipped, the one at 3 s runs even if a tick fires early.
    expect(minElapsedMs(controls(3000), 1000)).toBe(2800);
    expect(minElapsedMs(controls(1000), 1000)).toBe(800);
    expect(minElapsedMs(controls(100), 1000)).toBe(1);
  });

  it("tries a round once per tick and never sleeps longer than a second", () => {
    expect(admitWake(0, 200)).toEqual({ attempt: false, sleepMs: 200 });
    expect(admitWake(199, 200)).toEqual({ attempt: true, sleepMs: 200 });
    expect(admitWake(120, 200)).toEqual({ attempt: false, sleepMs: 80 });
    expect(admitWake(10, 3_600_000)).toEqual({ attempt: false, sleepMs: MAX_ADMIT_SLEEP_MS });
    expect(admitWake(3_599_990, 3_600_000)).toEqual({ attempt: true, sleepMs: MAX_ADMIT_SLEEP_MS });
    expect(admitWake(3_599_000, 3_610_000).sleepMs).toBe(MAX_ADMIT_SLEEP_MS);
  });

  it("trusts cached controls for at most one interval of the concert (and at most a second)", () => {
    expect(controlsTtlMs(controls(300))).toBe(300);
    expect(controlsTtlMs(controls(60_000))).toBe(MAX_ADMIT_SLEEP_MS);
  });
});

describe("QueueControlCache", () => {
  function setup() {
    let clock = 0;
    const rows = new Map<number, StoredControls>();
    const loads: number[][] = [];
    let fail = false;
    const cache = new QueueControlCache(
      async (ids) => {
        loads.push([...ids]);
        if (fail) throw new Error("postgres down");
        return new Map(ids.flatMap((id) => (rows.has(id) ? [[id, rows.get(id)!] as const] : [])));
      },
      defaults,
      () => clock,
    );
    return {
      cache,
      rows,
      loads,
      tick: (ms: number) => (clock += ms),
      failLoads: (value: boolean) => (fail = value),
    };
  }

  it("loads the stale concerts in one query and serves them from memory until their interval lapses", async () => {
    const { cache, rows, loads, tick } = setup();
    rows.set(1, { paused: true, admitBatch: null, admitIntervalMs: 500, activeMax: null });
    const first = await cache.getMany([1, 2]);
    expect(first.get(1)).toEqual({ paused: true, admitBatch: 100, admitIntervalMs: 500, activeMax: 1000 });
    expect(first.get(2)).toEqual({ paused: false, ...defaults });
    expect(loads).toEqual([[1, 2]]);

    rows.set(1, { paused: false, admitBatch: null, admitIntervalMs: 500, activeMax: null });
    tick(499);
    expect((await cache.get(1)).paused).toBe(true); // still within one interval
    expect(loads).toHaveLength(1);
    tick(1);
    expect((await cache.getMany([1, 2])).get(1)?.paused).toBe(false); // concert 1 lapsed after 500 ms
    expect(loads).toEqual([[1, 2], [1]]);
  });

  it("shares one load among concurrent readers and follows a local write at once", async () => {
    const { cache, loads } = setup();
    await Promise.all([cache.get(5), cache.get(5), cache.getMany([5, 6])]);
    expect(loads).toEqual([[5], [6]]);
    cache.put(5, { paused: true, admitBatch: 2, admitIntervalMs: null, activeMax: null });
    expect(await cache.get(5)).toEqual({ paused: true, admitBatch: 2, admitIntervalMs: 1000, activeMax: 1000 });
    expect(loads).toHaveLength(2);
  });

  it("when loading fails, the admitter gets only what it knew: never defaults for a queue it never saw", async () => {
    const { cache, rows, tick, failLoads } = setup();
    rows.set(1, { paused: true, admitBatch: null, admitIntervalMs: null, activeMax: null });
    await cache.get(1);
    tick(5000);
    failLoads(true);
    const errors: unknown[] = [];
    const known = await cache.getManyOrKnown([1, 2], (err) => errors.push(err));
    expect([...known.keys()]).toEqual([1]);
    expect(known.get(1)?.paused).toBe(true);
    expect(errors).toHaveLength(1);
    await expect(cache.get(2)).rejects.toThrow("postgres down");
    expect(cache.peek(2)).toEqual({ paused: false, ...defaults });
  });
});
