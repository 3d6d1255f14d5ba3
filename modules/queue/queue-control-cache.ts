/**
 * A node's copy of the queue controls, trusted for at most one admission interval of the concert
 * (controlsTtlMs), so a change reaches every node within one interval while the admitter asks
 * PostgreSQL once per stale batch of concerts, not per concert per tick. Concurrent readers of
 * the same stale concert share one load.
 */
import { controlsTtlMs, effectiveControls, type QueueControls, type QueueDefaults, type StoredControls } from "./queue-control-rules";

type Loader = (concertIds: number[]) => Promise<Map<number, StoredControls>>;

interface Entry {
  controls: QueueControls;
  until: number;
}

export class QueueControlCache {
  private readonly entries = new Map<number, Entry>();
  private readonly pending = new Map<number, Promise<void>>();

  constructor(
    private readonly load: Loader,
    readonly defaults: QueueDefaults,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 10_000,
  ) {}

  /** Fresh controls of every concert in `concertIds` (one load for all the stale ones). */
  async getMany(concertIds: readonly number[]): Promise<Map<number, QueueControls>> {
    const now = this.now();
    const stale = concertIds.filter((id) => !((this.entries.get(id)?.until ?? 0) > now));
    if (stale.length > 0) {
      const toLoad = stale.filter((id) => !this.pending.has(id));
      if (toLoad.length > 0) {
        const loading = this.refresh(toLoad);
        for (const id of toLoad) this.pending.set(id, loading);
        void loading.then(
          () => this.clearPending(toLoad, loading),
          () => this.clearPending(toLoad, loading),
        );
      }
      await Promise.all(stale.map((id) => this.pending.get(id)));
    }
    return new Map(concertIds.map((id) => [id, this.peek(id)]));
  }

  /**
   * Like getMany; when loading fails, the controls this node knew (stale), and none for a concert it
   * never saw: the admitter skips those rather than admit a queue that may be paused.
   */
  async getManyOrKnown(concertIds: readonly number[], onError: (err: unknown) => void): Promise<Map<number, QueueControls>> {
    try {
      return await this.getMany(concertIds);
    } catch (err) {
      onError(err);
      const known = new Map<number, QueueControls>();
      for (const id of concertIds) {
        const entry = this.entries.get(id);
        if (entry) known.set(id, entry.controls);
      }
      return known;
    }
  }

  async get(concertId: number): Promise<QueueControls> {
    return (await this.getMany([concertId])).get(concertId) ?? this.peek(concertId);
  }

  /** What this node last knew (possibly stale), or the defaults; never waits. */
  peek(concertId: number): QueueControls {
    return this.entries.get(concertId)?.controls ?? effectiveControls(undefined, this.defaults);
  }

  /** Stores a value just read or written on this node (a PATCH is followed here at once). */
  put(concertId: number, stored: StoredControls | undefined): QueueControls {
    const controls = effectiveControls(stored, this.defaults);
    this.prune();
    this.entries.set(concertId, { controls, until: this.now() + controlsTtlMs(controls) });
    return controls;
  }

  private async refresh(concertIds: number[]): Promise<void> {
    const rows = await this.load(concertIds);
    for (const id of concertIds) this.put(id, rows.get(id));
  }

  private clearPending(concertIds: number[], loading: Promise<void>): void {
    for (const id of concertIds) if (this.pending.get(id) === loading) this.pending.delete(id);
  }

  private prune(): void {
    if (this.entries.size < this.maxEntries) return;
    const now = this.now();
    for (const [id, entry] of this.entries) if (entry.until <= now) this.entries.delete(id);
    if (this.entries.size >= this.maxEntries) this.entries.clear();
  }
}
