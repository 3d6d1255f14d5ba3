import { HoldSweeper } from "../../modules/reservations/hold-sweeper";

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("HoldSweeper", () => {
  it("takes batches until one comes back short, reporting each batch", async () => {
    const batches = [[1, 2], [3, 4], [5]];
    const limits: number[] = [];
    const reported: number[][] = [];
    const sweeper = new HoldSweeper<number>({
      intervalMs: 60_000,
      batchSize: 2,
      sweep: async (limit) => {
        limits.push(limit);
        return batches.shift() ?? [];
      },
      onReleased: (items) => {
        reported.push(items);
      },
      onError: (err) => {
        throw err;
      },
    });
    await expect(sweeper.runOnce()).resolves.toEqual([1, 2, 3, 4, 5]);
    expect(limits).toEqual([2, 2, 2]);
    expect(reported).toEqual([[1, 2], [3, 4], [5]]);
  });

  it("stops after maxBatches even if more is due", async () => {
    let calls = 0;
    const sweeper = new HoldSweeper<number>({
      intervalMs: 60_000,
      batchSize: 1,
      maxBatches: 3,
      sweep: async () => [++calls],
      onReleased: () => undefined,
      onError: () => undefined,
    });
    await expect(sweeper.runOnce()).resolves.toEqual([1, 2, 3]);
    expect(calls).toBe(3);
  });

  it("never runs two sweeps at once on a node, and stop() waits for the one in flight", async () => {
    const gate = deferred();
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const sweeper = new HoldSweeper<number>({
      intervalMs: 60_000,
      batchSize: 10,
      sweep: async () => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        runs += 1;
        await gate.promise;
        active -= 1;
        return [runs];
      },
      onReleased: () => undefined,
      onError: () => undefined,
    });
    const first = sweeper.runOnce();
    const second = sweeper.runOnce();
    let stopped = false;
    const stopping = sweeper.stop().then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    gate.resolve();
    await expect(first).resolves.toEqual([1]);
    await expect(second).resolves.toEqual([2]);
    await stopping;
    expect(maxActive).toBe(1);
  });

  it("reports a failing sweep to onError from the timer and keeps going", async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const done = deferred();
    const sweeper = new HoldSweeper<number>({
      intervalMs: 5,
      batchSize: 10,
      sweep: async () => {
        calls += 1;
        if (calls === 1) throw new Error("database down");
        done.resolve();
        return [];
      },
      onReleased: () => undefined,
      onError: (err) => errors.push(err),
    });
    sweeper.start();
    await done.promise;
    await sweeper.stop();
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe("database down");
    expect(calls).toBeGreaterThanOrEqual(2);
  });
});
