import type { ActionCacheOptions, Context, Service, ServiceSchema } from "moleculer";
import { DurableEventsMixin } from "../mixins/durable-events.mixin";
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
import { addConcert, addSchedule, updateConcert, type ConcertInput, type ConcertPatch, type ScheduleInput } from "../modules/catalog/catalog-writes";
import { createConcertParams, createScheduleParams, updateConcertParams } from "../modules/catalog/admin-params";
import { CALL_TIMEOUT_MS, RETRY } from "../lib/call-policy";

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

/** The durable source of seat-map invalidation after a payment or a refund (SPEC §9). */
const durableInvalidation = DurableEventsMixin<CatalogThis>("catalog", {
  async "payment.completed"(event) {
    await this.invalidateSeatChange({ concertId: Number(event.concertId), scheduleId: Number(event.scheduleId) });
  },
  async "payment.refunded"(event) {
    await this.invalidateSeatChange({ concertId: Number(event.concertId), scheduleId: Number(event.scheduleId) });
  },
});

/** Lease of the cacher's per-key fill lock: far longer than one catalog query takes. */
const FILL_LOCK_TTL_MS = 10_000;

/**
 * `action` through the cacher; when its fill lock cannot be had in time (the cacher's redlock gives
 * up after ~1 s, lib/broker-options.ts: another node is filling slowly, or died holding the lock
 * until its TTL), the read goes to PostgreSQL without touching the cache. A reader that does not
 * hold the lock never stores, so the invalidation's re-delete under the lock stays sound; a crashed
 * filler costs at most FILL_LOCK_TTL_MS of such extra reads (one per key and node at a time, through
 * the single-flight), never an error.
 */
async function readThroughOnLockTimeout(ctx: Context, action: string, params: object): Promise<unknown> {
  try {
    return await ctx.call(action, params);
  } catch (err) {
    if ((err as { name?: unknown }).name !== "LockError") throw err;
    ctx.service?.logger.warn(`Cache fill lock of ${action} not acquired in time; reading through to the database`);
    try {
      return await ctx.call(action, params, { meta: { $cache: false } });
    } finally {
      delete (ctx.meta as { $cache?: boolean }).$cache; // the sub-call's meta merges back into this request's
    }
  }
}

/**
 * The cacher's fill lock, waited for up to `ttlMs` (the cacher's own retries end after ~1 s): a
 * fill holds the lock at most that long, and the invalidation must come after a slow one.
 */
async function lockWithin(cacher: NonNullable<Service["broker"]["cacher"]>, key: string, ttlMs: number): Promise<() => Promise<void>> {
  const deadline = Date.now() + ttlMs;
  for (;;) {
    try {
      return await cacher.lock(key, ttlMs);
    } catch (err) {
      if ((err as { name?: unknown }).name !== "LockError" || Date.now() > deadline) throw err;
    }
  }
}

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
  mixins: [OrmMixin(), QueueGuardMixin(), durableInvalidation],
  settings: { rest: "/" },
  actions: {
    listConcerts: {
      rest: "GET /concerts",
      timeout: CALL_TIMEOUT_MS.read,
      retryPolicy: RETRY.safe, // read: repeating changes nothing
      params: {},
      handler(this: OrmMethods, _ctx: Context) {
        return listConcerts(this.em());
      },
    },
    /** Operator: a concert with its sale windows (SPEC §7). */
    createConcert: {
      rest: "POST /admin/concerts",
      timeout: CALL_TIMEOUT_MS.write,
      // not retried: a repeat would create a second concert
      auth: "admin",
      params: createConcertParams,
      async handler(this: OrmMethods, ctx: Context<ConcertInput, { $statusCode?: number; $location?: string }>) {
        const concert = await addConcert(this.em(), ctx.params);
        ctx.meta.$statusCode = 201;
        ctx.meta.$location = `/api/concerts/${concert.id}/schedules`;
        return concert;
      },
    },
    /** Operator: changes title, venue or windows; `concert.updated` tells the nodes that cache them. */
    updateConcert: {
      rest: "PATCH /admin/concerts/:concertId",
      timeout: CALL_TIMEOUT_MS.write,
      retryPolicy: RETRY.safe, // sets fields: a repeat sets the same values
      auth: "admin",
      params: updateConcertParams,
      async handler(this: OrmMethods, ctx: Context<ConcertPatch & { concertId: number }>) {
        const { concertId, ...patch } = ctx.params;
        const concert = await updateConcert(this.em(), concertId, patch);
        await ctx.broadcast("concert.updated", concert);
        return concert;
      },
    },
    /** Operator: a schedule with its seats, by sections of rows (1–10,000 seats). */
    createSchedule: {
      rest: "POST /admin/concerts/:concertId/schedules",
      timeout: CALL_TIMEOUT_MS.write,
      // not retried: a repeat would create a second schedule
      auth: "admin",
      params: createScheduleParams,
      async handler(ctx: Context<ScheduleInput & { concertId: number }, { $statusCode?: number; $location?: string }>) {
        const { concertId, ...input } = ctx.params;
        const schedule = await addSchedule(this.em(), concertId, input);
        // The concert's cached schedule list must show it at once.
        await this.invalidateSeatChange({ concertId, scheduleId: schedule.id });
        ctx.meta.$statusCode = 201;
        ctx.meta.$location = `/api/schedules/${schedule.id}/seats`;
        return schedule;
      },
    },
    /** Internal: one concert `{id,title,venue,queueOpensAt,saleOpensAt}`, or 404 CONCERT_NOT_FOUND (used by queue, ranking). */
    getConcert: {
      params: { concertId: id },
      timeout: CALL_TIMEOUT_MS.read,
      retryPolicy: RETRY.safe, // read: repeating changes nothing
      handler(this: OrmMethods, ctx: Context<{ concertId: number }>) {
        return getConcert(this.em(), ctx.params.concertId);
      },
    },
    listSchedules: {
      rest: "GET /concerts/:concertId/schedules",
      timeout: CALL_TIMEOUT_MS.read,
      retryPolicy: RETRY.safe, // read: repeating changes nothing
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
      timeout: CALL_TIMEOUT_MS.read,
      retryPolicy: RETRY.safe, // read: repeating changes nothing
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
      timeout: CALL_TIMEOUT_MS.read,
      retryPolicy: RETRY.safe, // read: repeating changes nothing
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
    "payment.refunded": {
      params: seatChangeParams,
      handler(ctx: Context<SeatChange>) {
        return this.invalidateSeatChange(ctx.params);
      },
    },
  },
  methods: {
    cachedRead<T>(ctx: Context, action: string, params: object, key: string): Promise<T> {
      return this.flights.run(key, () => readThroughOnLockTimeout(ctx, action, params)) as Promise<T>;
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
            const unlock = await lockWithin(cacher, key, FILL_LOCK_TTL_MS);
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
