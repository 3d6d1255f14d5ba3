import type { Context, Service, ServiceSchema } from "moleculer";
import { getConfig } from "../lib/config";
import { domainError } from "../lib/errors";
import { readIdempotencyKey } from "../lib/idempotency-key";
import { OrmMixin, type OrmMethods } from "../mixins/orm.mixin";
import { QueueGuardMixin } from "../mixins/queue-guard.mixin";
import type { RedisMethods } from "../mixins/redis.mixin";
import { bumpAfterCommit } from "../modules/catalog/seat-map-cache";
import { findOwnPayment, paymentGuardConcert, payReservation } from "../modules/payments/pay-reservation";
import { paymentSalesPage } from "../modules/payments/payment-sales";
import { MAX_INT4 } from "../modules/payments/payment-rules";
import { refundReservation } from "../modules/payments/refund-reservation";
import { holdsLiveReservation } from "../modules/queue/live-hold";
import { CALL_TIMEOUT_MS, RETRY } from "../lib/call-policy";

/** What the gateway puts in ctx.meta (services/api.service.ts). */
interface RequestMeta {
  user?: { id: string };
  idempotencyKey?: string;
  $statusCode?: number;
  $location?: string;
}

type PayContext = Context<{ reservationId: number }, RequestMeta>;
type PaymentsThis = Service<{ rest: string }> & OrmMethods & RedisMethods;

function callerId(ctx: Context<unknown, RequestMeta>): string {
  const user = ctx.meta.user;
  if (!user) throw domainError("UNAUTHORIZED", "This endpoint needs an Authorization: Bearer token");
  return user.id;
}

/**
 * Pays a HELD reservation from the points wallet in one transaction that also writes the
 * payment.completed outbox row (SPEC §2–4); announces the payment only after the commit.
 */
const PaymentsService: ServiceSchema<{ rest: string }, Record<string, never>, OrmMethods & RedisMethods> = {
  name: "payments",
  mixins: [OrmMixin(), QueueGuardMixin()],
  settings: { rest: "/payments" },
  actions: {
    create: {
      rest: "POST /",
      timeout: CALL_TIMEOUT_MS.write,
      retryPolicy: RETRY.safe, // single by the required Idempotency-Key (row lock + unique key): a repeat replays the payment
      auth: "required",
      params: {
        reservationId: { type: "number", integer: true, positive: true, max: MAX_INT4 },
      },
      // Runs before the token check: a malformed key is a 422, someone else's reservation a 404,
      // and a replay of a finished payment needs no token (the payment expired it).
      queueGuard(this: PaymentsThis, ctx: PayContext) {
        const key = readIdempotencyKey(ctx.meta.idempotencyKey, true);
        return paymentGuardConcert(this.em(), callerId(ctx), ctx.params.reservationId, key);
      },
      // A genuine token that ran out still pays the caller's live hold (SPEC §8).
      queueGuardLiveHold(this: PaymentsThis, ctx: PayContext) {
        return holdsLiveReservation(this.em(), callerId(ctx), ctx.params.reservationId);
      },
      async handler(this: PaymentsThis, ctx: PayContext) {
        const { payment, event } = await payReservation(this.em(), {
          userId: callerId(ctx),
          reservationId: ctx.params.reservationId,
          idempotencyKey: readIdempotencyKey(ctx.meta.idempotencyKey, true),
          topic: getConfig().kafkaTopicPaymentCompleted,
        });
        if (!event) {
          ctx.meta.$statusCode = 200;
          return payment;
        }
        ctx.meta.$statusCode = 201;
        ctx.meta.$location = `/api/payments/${payment.id}`;
        // Committed: the seat maps show SOLD on every node's next read, before the 201 (SPEC invariant 6).
        await bumpAfterCommit(this.redis, getConfig().redisPrefix, [event], this.logger);
        // The outbox row already guarantees Kafka delivery, so a failed emit only delays the token
        // expiry and the durable re-bump; it must not turn a payment into an error.
        await ctx.emit("payment.completed", event).catch((err: unknown) => {
          this.logger.warn(`payment.completed for payment ${payment.id} was not emitted:`, err);
        });
        return payment;
      },
    },
    /** Internal: payments after `afterId` with their concert and seats, for rebuilding derived state (ranking). */
    salesPage: {
      params: {
        afterId: { type: "number", integer: true, min: 0 },
        limit: { type: "number", integer: true, min: 1, max: 1000 },
      },
      handler(this: PaymentsThis, ctx: Context<{ afterId: number; limit: number }>) {
        return paymentSalesPage(this.em(), ctx.params.afterId, ctx.params.limit);
      },
    },
    /** The caller's own payment (the Location of a 201); others' answer 404 PAYMENT_NOT_FOUND. */
    get: {
      rest: "GET /:id",
      timeout: CALL_TIMEOUT_MS.read,
      retryPolicy: RETRY.safe, // read: repeating changes nothing
      auth: "required",
      params: { id: { type: "number", integer: true, positive: true, max: MAX_INT4, convert: true } },
      handler(this: PaymentsThis, ctx: Context<{ id: number }, RequestMeta>) {
        return findOwnPayment(this.em(), callerId(ctx), ctx.params.id);
      },
    },
    /**
     * Operator: refund a paid reservation (SPEC §7). A repeat answers 200 with the same view and
     * refunds nothing: the reservation's state makes the refund single, so the optional
     * Idempotency-Key is only validated. The path is absolute (basePath "/"), outside /payments.
     */
    refund: {
      rest: { method: "POST", basePath: "/", path: "/admin/reservations/:id/refund" },
      timeout: CALL_TIMEOUT_MS.write,
      retryPolicy: RETRY.safe, // single by row state: a repeat finds it REFUNDED and refunds nothing
      auth: "admin",
      params: { id: { type: "number", integer: true, positive: true, max: MAX_INT4, convert: true } },
      async handler(this: PaymentsThis, ctx: Context<{ id: number }, RequestMeta>) {
        readIdempotencyKey(ctx.meta.idempotencyKey, false);
        const { reservation, event } = await refundReservation(this.em(), {
          reservationId: ctx.params.id,
          topic: getConfig().kafkaTopicPaymentRefunded,
        });
        // Committed, and the outbox row carries it to Kafka: a failed emit only delays the fast path.
        if (event) {
          await bumpAfterCommit(this.redis, getConfig().redisPrefix, [event], this.logger);
          await ctx.emit("payment.refunded", event).catch((err: unknown) => {
            this.logger.warn(`payment.refunded for reservation ${reservation.id} was not emitted:`, err);
          });
        }
        return reservation;
      },
    },
  },
};

export default PaymentsService;
