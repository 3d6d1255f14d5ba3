/**
 * The cache keys of the catalog's reads, in one place: the cached actions build their keys here
 * and the invalidation deletes exactly these keys. The cacher adds its own prefix
 * (`${REDIS_PREFIX}cache-`), so the names only need to be unique within the catalog.
 */
export const catalogCacheKeys = {
  /** `[{id, number, price, status}]` of one schedule. */
  seatMap: (scheduleId: number): string => `catalog.seatMap:${scheduleId}`,
  /** Every schedule of one concert with its `availableSeats`. */
  schedules: (concertId: number): string => `catalog.schedules:${concertId}`,
  /** `{id, concertId, startsAt, totalSeats}` of one schedule (never changes once created). */
  schedule: (scheduleId: number): string => `catalog.schedule:${scheduleId}`,
};

/** Where seats changed: the payload part of reservation.held/released and payment.completed. */
export interface SeatChange {
  concertId: number;
  scheduleId: number;
}

/** The cached reads a seat change makes stale: that schedule's seat map and its concert's schedule list. */
export function keysStaleAfter(change: SeatChange): string[] {
  return [catalogCacheKeys.seatMap(change.scheduleId), catalogCacheKeys.schedules(change.concertId)];
}
