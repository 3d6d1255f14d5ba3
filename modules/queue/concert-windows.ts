/**
 * A node's short-lived copy of each concert's entry windows (queueOpensAt / saleOpensAt), so a rush
 * of entries costs one catalog call per concert per few seconds, and an operator's change of the
 * windows is followed within WINDOW_TTL_MS. Concurrent callers share one lookup; failures (404 of an
 * unknown concert included) are not remembered.
 */
import type { EntryWindows } from "./queue-store";

export const WINDOW_TTL_MS = 2000;

export interface ConcertTimes {
  queueOpensAt?: string | Date | null;
  saleOpensAt?: string | Date | null;
}

export function entryWindowsOf(concert: ConcertTimes): EntryWindows {
  const ms = (value: string | Date | null | undefined) => (value == null ? null : new Date(value).getTime());
  return { queueOpensMs: ms(concert.queueOpensAt), saleOpensMs: ms(concert.saleOpensAt) };
}

export class ConcertWindowCache {
  private readonly entries = new Map<number, { until: number; pending: Promise<EntryWindows> }>();

  constructor(
    private readonly ttlMs = WINDOW_TTL_MS,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 10_000,
  ) {}

  get(concertId: number, lookup: () => Promise<ConcertTimes>): Promise<EntryWindows> {
    const hit = this.entries.get(concertId);
    if (hit && hit.until > this.now()) return hit.pending;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    const entry = { until: Number.POSITIVE_INFINITY, pending: lookup().then(entryWindowsOf) };
    this.entries.set(concertId, entry);
    entry.pending.then(
      () => {
        entry.until = this.now() + this.ttlMs;
      },
      () => {
        if (this.entries.get(concertId) === entry) this.entries.delete(concertId);
      },
    );
    return entry.pending;
  }
}
