import { LRUCache } from "lru-cache";
import type { ScheduleView } from "./catalog-queries";

/** Entries kept at most: ~100 bytes each, so the directory stays around a megabyte. */
export const SCHEDULE_DIRECTORY_MAX = 10_000;

/**
 * scheduleId → schedule (or what a module needs of it: the reservations keep its concert id), in
 * process, in front of PostgreSQL. Schedules never change once created, so an entry needs no
 * invalidation; the directory is bounded (the least recently used entry goes first). lru-cache's
 * fetch shares one load among concurrent lookups of an id and keeps no failed load (404,
 * PostgreSQL down), so a schedule created a moment later is found.
 */
export class ScheduleDirectory<T extends NonNullable<unknown> = ScheduleView> {
  private readonly entries: LRUCache<number, T>;

  constructor(load: (scheduleId: number) => Promise<T>, max = SCHEDULE_DIRECTORY_MAX) {
    this.entries = new LRUCache<number, T>({ max, fetchMethod: (scheduleId) => load(scheduleId) });
  }

  async get(scheduleId: number): Promise<T> {
    return (await this.entries.fetch(scheduleId)) as T;
  }

  get size(): number {
    return this.entries.size;
  }
}
