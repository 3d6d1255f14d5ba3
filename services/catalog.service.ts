import type { ActionCacheOptions, Context, Service, ServiceSchema } from "moleculer";
import { OrmMixin, type OrmMethods } from "../mixins/orm.mixin";
import { QueueGuardMixin } from "../mixins/queue-guard.mixin";
import { catalogCacheKeys, keysStaleAfter, type SeatChange } from "../modules/catalog/cache-keys";
import {
  getConcert,
  getSchedule,
  getSeatMap,
  listConcerts,
  listSchedules,
  type ScheduleAvailability,
  type ScheduleView,
  type SeatView,
} from "../modules/catalog/catalog-queries";
import { SingleFlight } from "../modules/catalog/single-flight";

interface CatalogMethods {
  /** `action` (a cached catalog action) through this node's single-flight for `key`. */
  cachedRead<T>(ctx: Context, action: string, params: object, key: string): Promise<T>;
  /** Drops the cached reads a seat change made stale, on every node (the cache is shared Redis). */
  invalidateSeatChange(change: SeatChange): Promise<void>;
}

interface CatalogVars extends OrmMethods {
  flights: SingleFlight<unknown>;
}

type CatalogThis = Service & CatalogVars & CatalogMethods;

const id = { type: "number", integer: true, positive: true, convert: true } as const;
const seatChangeParams = { concertId: id, scheduleId: id };

/** Lease of the cacher's per-key fill lock: far longer than one catalog query takes. */
const FILL_LOCK_TTL_MS = 10_000;

/**
 * Cached in Moleculer's Redis cacher under `keyOf(params)`, for the cacher's TTL
 * (SEAT_CACHE_TTL_S, lib/broker-options.ts). The lock makes one node fill a missing key while the
 * others wait and then read what it stored (stampede protection across nodes).
 */
function cachedUnder(keyOf: (params: any) => string): ActionCacheOptions {
  return {
    keygen: (_action, _opts, ctx) => keyOf(ctx.params),
    lock: { enabled: true, ttl: FILL_LOCK_TTL_MS } as ActionCacheOptions["lock"],
  };
}

/**
 * Concerts, schedules and seat maps (read side). Schedule lists and seat maps are served from the
 * shared Redis cache and deleted from it when seats change (reservation.held/released,
 * payment.completed), so the next read on any node sees the change (invariant 6).
 *
 * The HTTP reads are thin actions in front of `protected` cached ones, for two reasons: Moleculer
 * runs the cacher middleware before action hooks, so a cached guarded action would answer from
 * the cache without running the queue guard; and the thin action can send concurrent misses of a
 * key through this node's single-flight before they reach the cacher lock (see single-flight.ts).
 * getSchedule carries no guard, so it is cached itself. The reservation path never reads these
 * caches; it locks the seat rows in PostgreSQL.
 */
const CatalogService: ServiceSchema<{ rest: string }, CatalogMethods, CatalogVars> = {
  name: "catalog",
  mixins: [OrmMixin(), QueueGuardMixin()],
  settings: { rest: "/" },
  actions: {
    listConcerts: {
      rest: "GET /concerts",
      params: {},
      handler(this: OrmMethods, _ctx: Context) {
        return listConcerts(this.em());
      },
    },
    /** Internal: one concert, or 404 CONCERT_NOT_FOUND (used by queue, ranking). */
    getConcert: {
      params: { concertId: id },
      handler(this: OrmMethods, ctx: Context<{ concertId: number }>) {
        return getConcert(this.em(), ctx.params.concertId);
      },
    },
    listSchedules: {
      rest: "GET /concerts/:concertId/schedules",
      params: { concertId: id, available: { type: "boolean", optional: true, convert: true } },
      async handler(ctx: Context<{ concertId: number; available?: boolean }>) {
        const { concertId, available } = ctx.params;
        const schedules = await this.cachedRead<ScheduleAvailability[]>(
          ctx,
          "catalog.cachedSchedules",
          { concertId },
          catalogCacheKeys.schedules(concertId),
        );
        return available ? schedules.filter((schedule) => schedule.availableSeats > 0) : schedules;
      },
    },
    seatMap: {
      rest: "GET /schedules/:scheduleId/seats",
      auth: "required",
      params: { scheduleId: id },
      /** The ACTIVE token must be for the concert this schedule belongs to (404 for an unknown schedule). */
      async queueGuard(this: CatalogThis, ctx: Context<{ scheduleId: number }>) {
        const schedule = await this.cachedRead<ScheduleView>(
          ctx,
          "catalog.getSchedule",
          { scheduleId: ctx.params.scheduleId },
          catalogCacheKeys.schedule(ctx.params.scheduleId),
        );
        return schedule.concertId;
      },
      handler(ctx: Context<{ scheduleId: number }>) {
        const { scheduleId } = ctx.params;
        return this.cachedRead<SeatView[]>(ctx, "catalog.cachedSeatMap", { scheduleId }, catalogCacheKeys.seatMap(scheduleId));
      },
    },
    /** Internal: `{id, concertId, startsAt, totalSeats}` or 404 SCHEDULE_NOT_FOUND (cached; schedules never change). */
    getSchedule: {
      params: { scheduleId: id },
      cache: cachedUnder((params: { scheduleId: number }) => catalogCacheKeys.schedule(params.scheduleId)),
      handler(this: OrmMethods, ctx: Context<{ scheduleId: number }>) {
        return getSchedule(this.em(), ctx.params.scheduleId);
      },
    },
    cachedSchedules: {
      visibility: "protected",
      params: { concertId: id },
      cache: cachedUnder((params: { concertId: number }) => catalogCacheKeys.schedules(params.concertId)),
      handler(this: OrmMethods, ctx: Context<{ concertId: number }>) {
        return listSchedules(this.em(), ctx.params.concertId);
      },
    },
    cachedSeatMap: {
      visibility: "protected",
      params: { scheduleId: id },
      cache: cachedUnder((params: { scheduleId: number }) => catalogCacheKeys.seatMap(params.scheduleId)),
      handler(this: OrmMethods, ctx: Context<{ scheduleId: number }>) {
        return getSeatMap(this.em(), ctx.params.scheduleId);
      },
    },
  },
  // Balanced events: one catalog node handles each, which is enough because the cache is shared.
  events: {
    "reservation.held": {
      params: seatChangeParams,
      handler(ctx: Context<SeatChange>) {
        return this.invalidateSeatChange(ctx.params);
      },
    },
    "reservation.released": {
      params: seatChangeParams,
      handler(ctx: Context<SeatChange>) {
        return this.invalidateSeatChange(ctx.params);
      },
    },
    "payment.completed": {
      params: seatChangeParams,
      handler(ctx: Context<SeatChange>) {
        return this.invalidateSeatChange(ctx.params);
      },
    },
  },
  methods: {
    cachedRead<T>(ctx: Context, action: string, params: object, key: string): Promise<T> {
      return this.flights.run(key, () => ctx.call(action, params)) as Promise<T>;
    },
    async invalidateSeatChange(change: SeatChange): Promise<void> {
      const keys = keysStaleAfter(change);
      const cacher = this.broker.cacher;
      if (cacher) await cacher.del(keys);
      // Reads on this node from now on start afresh instead of joining one that began before the change.
      for (const key of keys) this.flights.forget(key);
      if (!cacher) return;
      // A fill whose query ran before the change committed may still be about to store the old
      // value; it holds the key's fill lock until it has, so delete once more under that lock.
      await Promise.all(
        keys.map(async (key) => {
          try {
            const unlock = await cacher.lock(key, FILL_LOCK_TTL_MS);
            try {
              await cacher.del(key);
            } finally {
              await unlock();
            }
          } catch (err) {
            this.logger.warn(`Could not re-delete ${key} under its fill lock; it expires with its TTL`, err);
          }
        }),
      );
    },
  },
  created() {
    this.flights = new SingleFlight<unknown>();
  },
};

export default CatalogService;
