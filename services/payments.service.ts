import type { Context, Service, ServiceSchema } from "moleculer";
import { getConfig } from "../lib/config";
import { domainError } from "../lib/errors";
import { readIdempotencyKey } from "../lib/idempotency-key";
import { OrmMixin, type OrmMethods } from "../mixins/orm.mixin";
import { QueueGuardMixin } from "../mixins/queue-guard.mixin";
import { findOwnPayment, paymentGuardConcert, payReservation } from "../modules/payments/pay-reservation";
import { MAX_INT4 } from "../modules/payments/payment-rules";

/** What the gateway puts in ctx.meta (services/api.service.ts). */
interface RequestMeta {
  user?: { id: string };
  idempotencyKey?: string;
  $statusCode?: number;
  $location?: string;
}

type PayContext = Context<{ reservationId: number }, RequestMeta>;
type PaymentsThis = Service<{ rest: string }> & OrmMethods;

function callerId(ctx: Context<unknown, RequestMeta>): string {
  const user = ctx.meta.user;
  if (!user) throw domainError("UNAUTHORIZED", "This endpoint needs an Authorization: Bearer token");
  return user.id;
}

/**
 * Pays a HELD reservation from the points wallet in one transaction that also writes the
 * payment.completed outbox row (SPEC §2–4); announces the payment only after the commit.
 */
const PaymentsService: ServiceSchema<{ rest: string }, Record<string, never>, OrmMethods> = {
  name: "payments",
  mixins: [OrmMixin(), QueueGuardMixin()],
  settings: { rest: "/payments" },
  actions: {
    create: {
      rest: "POST /",
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
        // Committed: the outbox row already guarantees Kafka delivery, so a failed emit only
        // delays the token expiry and cache invalidation; it must not turn a payment into an error.
        await ctx.emit("payment.completed", event).catch((err: unknown) => {
          this.logger.warn(`payment.completed for payment ${payment.id} was not emitted:`, err);
        });
        return payment;
      },
    },
    /** The caller's own payment (the Location of a 201); others' answer 404 PAYMENT_NOT_FOUND. */
    get: {
      rest: "GET /:id",
      auth: "required",
      params: { id: { type: "number", integer: true, positive: true, max: MAX_INT4, convert: true } },
      handler(this: PaymentsThis, ctx: Context<{ id: number }, RequestMeta>) {
        return findOwnPayment(this.em(), callerId(ctx), ctx.params.id);
      },
    },
  },
};

export default PaymentsService;
