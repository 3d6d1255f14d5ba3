import type { ScheduleView } from "./catalog-queries";

/** Entries kept at most: ~100 bytes each, so the directory stays around a megabyte. */
export const SCHEDULE_DIRECTORY_MAX = 10_000;

/**
 * scheduleId → schedule (or what a module needs of it: the reservations keep its concert id), in
 * process, in front of PostgreSQL. Schedules never change once created,
 * so an entry needs no invalidation; the directory is bounded (the least recently used entry goes
 * first). Concurrent lookups of one id share one query; a failed lookup (404, PostgreSQL down) is
 * not kept, so a schedule created a moment later is found.
 */
export class ScheduleDirectory<T = ScheduleView> {
  private readonly entries = new Map<number, Promise<T>>();

  constructor(
    private readonly load: (scheduleId: number) => Promise<T>,
    private readonly max = SCHEDULE_DIRECTORY_MAX,
  ) {}

  get(scheduleId: number): Promise<T> {
    const known = this.entries.get(scheduleId);
    if (known) {
      // Map order is insertion order: re-inserting makes it the most recently used.
      this.entries.delete(scheduleId);
      this.entries.set(scheduleId, known);
      return known;
    }
    const loading = Promise.resolve().then(() => this.load(scheduleId));
    this.entries.set(scheduleId, loading);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as number);
    loading.catch(() => {
      if (this.entries.get(scheduleId) === loading) this.entries.delete(scheduleId);
    });
    return loading;
  }

  get size(): number {
    return this.entries.size;
  }
}
