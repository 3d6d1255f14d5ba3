/**
 * Remembers for a short while which keys passed a lookup (e.g. "this concert exists"), and lets
 * concurrent callers share one lookup, so a rush of entries costs one catalog call, not thousands.
 * Failures are not remembered: the next caller looks up again.
 */
export class PositiveLookupCache<K> {
  private readonly entries = new Map<K, { until: number; pending: Promise<void> }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 10_000,
  ) {}

  ensure(key: K, lookup: () => Promise<unknown>): Promise<void> {
    const hit = this.entries.get(key);
    if (hit && hit.until > this.now()) return hit.pending;
    if (this.entries.size >= this.maxEntries) this.prune();
    const entry = { until: Number.POSITIVE_INFINITY, pending: lookup().then(() => undefined) };
    this.entries.set(key, entry);
    entry.pending.then(
      () => {
        entry.until = this.now() + this.ttlMs;
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry.pending;
  }

  private prune(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.until <= now) this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.clear();
  }
}
