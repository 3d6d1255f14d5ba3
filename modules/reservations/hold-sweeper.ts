/**
 * Runs the expiry sweep every `intervalMs` on this node. Each node runs its own sweeper; they share
 * the work through SKIP LOCKED (see expireDueHolds), so no leader election is needed. Runs on one
 * node never overlap (they queue behind each other), and stop() waits for the run in flight.
 */
export type SweepBatch<T> = (limit: number) => Promise<T[]>;

export interface SweeperOptions<T> {
  intervalMs: number;
  batchSize: number;
  /** Upper bound of batches per run, so one run cannot monopolise the pool after an outage. */
  maxBatches?: number;
  sweep: SweepBatch<T>;
  /** Called with each batch after its transaction committed (e.g. to emit events). */
  onReleased: (items: T[]) => Promise<void> | void;
  onError: (err: unknown) => void;
}

export class HoldSweeper<T> {
  private timer?: NodeJS.Timeout;
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(private readonly options: SweeperOptions<T>) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.pending > 0) return;
      this.runOnce().catch(this.options.onError);
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.tail.catch(() => undefined);
  }

  /** Sweeps now (what the `sweepExpired` action runs), after the run in flight if there is one. */
  runOnce(): Promise<T[]> {
    this.pending += 1;
    const run = this.tail
      .catch(() => undefined)
      .then(() => this.sweepAll())
      .finally(() => {
        this.pending -= 1;
      });
    this.tail = run;
    return run;
  }

  private async sweepAll(): Promise<T[]> {
    const { batchSize, maxBatches = 10, sweep, onReleased } = this.options;
    const all: T[] = [];
    for (let batch = 0; batch < maxBatches; batch++) {
      const items = await sweep(batchSize);
      if (items.length > 0) await onReleased(items);
      all.push(...items);
      if (items.length < batchSize) break;
    }
    return all;
  }
}
