import type { Context, Service, ServiceSchema } from "moleculer";
import { getConfig } from "../lib/config";
import { DurableEventsMixin } from "../mixins/durable-events.mixin";
import { OrmMixin, type OrmMethods } from "../mixins/orm.mixin";
import { QueueGuardMixin } from "../mixins/queue-guard.mixin";
import type { RedisMethods } from "../mixins/redis.mixin";
import { catalogCacheKeys, type SeatChange } from "../modules/catalog/cache-keys";
import {
  getConcert,
  getSchedule,
  getSeatMap,
  listConcerts,
  listSchedules,
  type ScheduleAvailability,
  type SeatView,
} from "../modules/catalog/catalog-queries";
import { ScheduleDirectory } from "../modules/catalog/schedule-directory";
import { bumpAfterCommit, bumpSeatChanges, VersionedCache } from "../modules/catalog/seat-map-cache";
import { addConcert, addSchedule, updateConcert, type ConcertInput, type ConcertPatch, type ScheduleInput } from "../modules/catalog/catalog-writes";
import { createConcertParams, createScheduleParams, updateConcertParams } from "../modules/catalog/admin-params";
import { CALL_TIMEOUT_MS, RETRY } from "../lib/call-policy";

interface CatalogVars extends OrmMethods, RedisMethods {
  /** Seat maps and schedule lists, versioned in the shared Redis (set up on start: needs `redis`). */
  cache: VersionedCache;
  /** scheduleId → schedule, in process (schedules never change). */
  schedules: ScheduleDirectory;
  /** REDIS_PREFIX, read once. */
  keyPrefix: string;
}

type CatalogThis = Service & CatalogVars;

const id = { type: "number", integer: true, positive: true, convert: true } as const;

const seatChangeOf = (event: Record<string, unknown>): SeatChange => ({ concertId: Number(event.concertId), scheduleId: Number(event.scheduleId) });

/**
 * The durable bump after a payment or a refund (SPEC §9): the payments service bumps in the
 * request already; this repeats it from the Kafka topic for a node killed between commit and bump
 * or a Redis failure at that moment (a throw here makes the consumer retry).
 */
const durableBump = DurableEventsMixin<CatalogThis>("catalog", {
  async "payment.completed"(event) {
    await bumpSeatChanges(this.redis, this.keyPrefix, [seatChangeOf(event)]);
  },
  async "payment.refunded"(event) {
    await bumpSeatChanges(this.redis, this.keyPrefix, [seatChangeOf(event)]);
  },
});

/**
 * Concerts, schedules and seat maps (read side). Schedule lists and seat maps are served from the
 * shared Redis cache with versioned keys (modules/catalog/seat-map-cache.ts): a hit is one Redis
 * round trip, no PostgreSQL, no inner broker call. Whoever changes seats (reservations, payments,
 * the operator's createSchedule here) bumps the versions in the same request, so the next read on
 * any node sees the change (invariant 6). The reservation path never reads these caches; it locks
 * the seat rows in PostgreSQL.
 */
const CatalogService: ServiceSchema<{ rest: string }, Record<string, never>, CatalogVars> = {
  name: "catalog",
  mixins: [OrmMixin(), QueueGuardMixin(), durableBump],
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
        await bumpAfterCommit(this.redis, this.keyPrefix, [{ concertId, scheduleId: schedule.id }], this.logger);
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
        const schedules = await this.cache.read<ScheduleAvailability[]>(catalogCacheKeys.schedules(this.keyPrefix, concertId), () =>
          listSchedules(this.em(), concertId),
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
        return (await this.schedules.get(ctx.params.scheduleId)).concertId;
      },
      handler(ctx: Context<{ scheduleId: number }>) {
        const { scheduleId } = ctx.params;
        return this.cache.read<SeatView[]>(catalogCacheKeys.seatMap(this.keyPrefix, scheduleId), () => getSeatMap(this.em(), scheduleId));
      },
    },
    /** Internal: `{id, concertId, startsAt, totalSeats}` or 404 SCHEDULE_NOT_FOUND (kept in process; schedules never change). */
    getSchedule: {
      params: { scheduleId: id },
      timeout: CALL_TIMEOUT_MS.read,
      retryPolicy: RETRY.safe, // read: repeating changes nothing
      handler(ctx: Context<{ scheduleId: number }>) {
        return this.schedules.get(ctx.params.scheduleId);
      },
    },
  },
  created() {
    this.keyPrefix = getConfig().redisPrefix;
    this.schedules = new ScheduleDirectory((scheduleId) => getSchedule(this.em(), scheduleId));
  },
  started() {
    // After the mixins' started(): RedisMixin has opened `this.redis`.
    this.cache = new VersionedCache(this.redis, getConfig().seatCacheTtlS, this.logger);
  },
};

export default CatalogService;
