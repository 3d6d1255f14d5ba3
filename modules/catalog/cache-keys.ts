/**
 * The Redis keys of the catalog's versioned read cache (seat-map-cache.ts), in one place. Each
 * cached read has a version key and a data key that share a Redis Cluster hash tag (`{s7}`,
 * `{c3}`), so one Lua script can read both in a single round trip on a cluster too.
 */
export interface VersionedKeys {
  /** The read's current version (an opaque token, replaced on every change). */
  version: string;
  /** A hash `{v, json}`: the cached answer and the version it was read under. */
  data: string;
}

function versioned(prefix: string, name: string, tag: string): VersionedKeys {
  return { version: `${prefix}${name}:{${tag}}:v`, data: `${prefix}${name}:{${tag}}:data` };
}

export const catalogCacheKeys = {
  /** `[{id, section, row, number, price, status}]` of one schedule. */
  seatMap: (prefix: string, scheduleId: number): VersionedKeys => versioned(prefix, "seatmap", `s${scheduleId}`),
  /** Every schedule of one concert with its `availableSeats`. */
  schedules: (prefix: string, concertId: number): VersionedKeys => versioned(prefix, "schedules", `c${concertId}`),
};

/** Where seats changed: the payload part of reservation.held/released and payment.completed/refunded. */
export interface SeatChange {
  concertId: number;
  scheduleId: number;
}

/** The version keys a seat change makes stale: that schedule's seat map and its concert's schedule list. */
export function versionsStaleAfter(prefix: string, change: SeatChange): string[] {
  return [catalogCacheKeys.seatMap(prefix, change.scheduleId).version, catalogCacheKeys.schedules(prefix, change.concertId).version];
}
