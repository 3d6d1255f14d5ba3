import type { Context, Service, ServiceSchema } from "moleculer";
import { getConfig } from "../lib/config";
import { domainError } from "../lib/errors";
import { OrmMixin, type OrmMethods } from "../mixins/orm.mixin";
import { QueueGuardMixin } from "../mixins/queue-guard.mixin";
import { RedlockMixin, taggedLockNames, type RedlockMethods } from "../mixins/redlock.mixin";
import { assertCancelled, cancelHold, expireDueHolds } from "../modules/reservations/hold-release";
import { HoldSweeper } from "../modules/reservations/hold-sweeper";
import {
  MAX_ROW_ID,
  MAX_SEATS_PER_RESERVATION,
  MIN_SEATS_PER_RESERVATION,
  seatIdsOfLockKeys,
  seatLockKeys,
} from "../modules/reservations/reservation-rules";
import { findReservation, type ReservationReleasedEvent } from "../modules/reservations/reservation-views";
import { LISTING_MAX_LIMIT, listScheduleReservations, type ListingQuery } from "../modules/reservations/reservation-listing";
import { ReservationStatuses } from "../modules/reservations/models/reservation";
import { holdSeats, scheduleConcertId, seatsUnavailable } from "../modules/reservations/seat-hold";
import { ScheduleDirectory } from "../modules/catalog/schedule-directory";
import { CALL_TIMEOUT_MS, RETRY } from "../lib/call-policy";
import { bumpAfterCommit } from "../modules/catalog/seat-map-cache";

interface ReservationsMeta {
  user?: { id: string };
  queueToken?: string;
  $statusCode?: number;
  $location?: string;
}

interface CreateParams {
  scheduleId: number;
  seatIds: number[];
}

interface Methods {
  userId(ctx: Context<unknown, ReservationsMeta>): string;
  emitReleased(events: ReservationReleasedEvent[]): Promise<void>;
}

interface Vars {
  sweeper: HoldSweeper<ReservationReleasedEvent>;
  /** scheduleId → concertId for the queue guard, in process (schedules never change). */
  concertOfSchedule: ScheduleDirectory<number>;
}

type This = Service & OrmMethods & RedlockMethods & Methods & Vars;

/** Ids in bodies are JSON numbers (a string is a 422); ids in paths are converted. */
const bodyId = { type: "number", integer: true, positive: true, max: MAX_ROW_ID } as const;
const pathId = { ...bodyId, convert: true } as const;

/** How many expired holds one sweep transaction takes. */
const SWEEP_BATCH = 100;

/**
 * Seat holds (SPEC §2–3): a Redis lock per seat keeps contention away from PostgreSQL, a row lock
 * and a unique index in PostgreSQL make double booking impossible even without Redis. Holds expire
 * after RESERVATION_HOLD_S; every node sweeps expired holds every RESERVATION_SWEEP_S.
 */
const ReservationsService: ServiceSchema<{ rest: string }, Methods, Vars, This> = {
  name: "reservations",
  mixins: [
    OrmMixin(),
    QueueGuardMixin(),
    RedlockMixin({
      enabled: () => getConfig().reservationRedlock,
      conflictError: (names) => seatsUnavailable(seatIdsOfLockKeys(names)),
    }),
  ],
  settings: { rest: "/reservations" },
  actions: {
    create: {
      rest: "POST /",
      timeout: CALL_TIMEOUT_MS.write,
      retryPolicy: RETRY.nodeGone, // never two holds (row locks); only if the node is gone: a repeat after an unseen commit gets 409 for the user's own seats
      auth: "required",
      params: {
        scheduleId: bodyId,
        seatIds: { type: "array", min: MIN_SEATS_PER_RESERVATION, max: MAX_SEATS_PER_RESERVATION, unique: true, items: { ...bodyId } }, // a copy: a rule object used twice is dropped from the schema other nodes see
      },
      queueGuard(this: This, ctx: Context<CreateParams>) {
        return this.concertOfSchedule.get(ctx.params.scheduleId);
      },
      // One hash tag per schedule: the seats of one hold are locked in one slot of a Redis Cluster.
      lock: { keys: (ctx: Context<CreateParams>) => taggedLockNames(`s${ctx.params.scheduleId}`, seatLockKeys(ctx.params.seatIds)) },
      async handler(this: This, ctx: Context<CreateParams, ReservationsMeta>) {
        const held = await holdSeats(this.em(), {
          userId: this.userId(ctx),
          scheduleId: ctx.params.scheduleId,
          seatIds: ctx.params.seatIds,
          holdSeconds: getConfig().reservationHoldS,
        });
        // Committed: the seat maps show the hold on every node's next read, before the 201 (SPEC invariant 6).
        await bumpAfterCommit(this.redis, getConfig().redisPrefix, [held.event], this.logger);
        await ctx.emit("reservation.held", held.event).catch((err) => this.logger.warn("reservation.held not emitted", err));
        ctx.meta.$statusCode = 201;
        ctx.meta.$location = `/api/reservations/${held.view.id}`;
        return held.view;
      },
    },
    get: {
      rest: "GET /:id",
      timeout: CALL_TIMEOUT_MS.read,
      retryPolicy: RETRY.safe, // read: repeating changes nothing
      auth: "required",
      params: { id: pathId },
      handler(this: This, ctx: Context<{ id: number }, ReservationsMeta>) {
        return findReservation(this.em(), ctx.params.id, this.userId(ctx));
      },
    },
    cancel: {
      rest: "DELETE /:id",
      timeout: CALL_TIMEOUT_MS.write,
      retryPolicy: RETRY.nodeGone, // single by row state; a repeat after an unseen commit answers 409 RESERVATION_NOT_HELD
      auth: "required",
      params: { id: pathId },
      async handler(this: This, ctx: Context<{ id: number }, ReservationsMeta>) {
        const outcome = await cancelHold(this.em(), ctx.params.id, this.userId(ctx));
        // A hold found lapsed was expired by this call: announce it, then refuse the cancel.
        if (outcome.released) await this.emitReleased([outcome.released]);
        return assertCancelled(outcome);
      },
    },
    /** Operator: a schedule's reservations, oldest first (`?status=`, keyset paging by `afterId`). */
    listForSchedule: {
      rest: { method: "GET", basePath: "/", path: "/admin/schedules/:id/reservations" },
      timeout: CALL_TIMEOUT_MS.read,
      retryPolicy: RETRY.safe, // read: repeating changes nothing
      auth: "admin",
      params: {
        id: pathId,
        status: { type: "enum", values: [...ReservationStatuses], optional: true },
        afterId: { ...pathId, optional: true },
        limit: { type: "number", integer: true, min: 1, max: LISTING_MAX_LIMIT, convert: true, optional: true },
      },
      handler(this: This, ctx: Context<{ id: number } & Omit<ListingQuery, "scheduleId">>) {
        const { id, status, afterId, limit } = ctx.params;
        return listScheduleReservations(this.em(), { scheduleId: id, status, afterId, limit });
      },
    },
    /** Internal (no REST): expire due holds now; the same work the periodic sweeper does. */
    sweepExpired: {
      params: {},
      async handler(this: This) {
        const released = await this.sweeper.runOnce();
        return { expired: released.map((event) => event.reservationId) };
      },
    },
  },
  methods: {
    userId(ctx: Context<unknown, ReservationsMeta>): string {
      const user = ctx.meta.user;
      if (!user) throw domainError("UNAUTHORIZED", "This endpoint needs an Authorization: Bearer token");
      return user.id;
    },
    async emitReleased(this: This, events: ReservationReleasedEvent[]): Promise<void> {
      if (events.length > 0) await bumpAfterCommit(this.redis, getConfig().redisPrefix, events, this.logger);
      for (const event of events) {
        await this.broker.emit("reservation.released", event).catch((err) => this.logger.warn("reservation.released not emitted", err));
      }
    },
  },
  created(this: This) {
    const config = getConfig();
    this.concertOfSchedule = new ScheduleDirectory<number>((scheduleId) => scheduleConcertId(this.em(), scheduleId));
    this.sweeper = new HoldSweeper({
      intervalMs: config.reservationSweepS * 1000,
      batchSize: SWEEP_BATCH,
      sweep: (limit) => expireDueHolds(this.em(), limit),
      onReleased: (events) => this.emitReleased(events),
      onError: (err) => this.logger.error("Hold sweep failed", err),
    });
  },
  started(this: This) {
    this.sweeper.start();
  },
  async stopped(this: This) {
    await this.sweeper.stop();
  },
};

export default ReservationsService;
