/**
 * Concert titles for the ranking, kept in process: the ranking is read far more often than
 * titles change, so each node asks the catalog for a title at most once per TTL. Concurrent
 * misses for one concert share a single lookup; a failed lookup is not cached.
 */
export class TitleCache {
  private readonly entries = new Map<number, { title: Promise<string | null>; expiresAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** `load` answers null for a concert that does not exist (cached too, for the TTL). */
  get(concertId: number, load: (concertId: number) => Promise<string | null>): Promise<string | null> {
    const hit = this.entries.get(concertId);
    if (hit && hit.expiresAt > this.now()) return hit.title;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    const title = load(concertId);
    const entry = { title, expiresAt: this.now() + this.ttlMs };
    this.entries.set(concertId, entry);
    title.catch(() => {
      if (this.entries.get(concertId) === entry) this.entries.delete(concertId);
    });
    return title;
  }
}
