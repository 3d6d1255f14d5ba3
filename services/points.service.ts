import type { Context, ServiceSchema } from "moleculer";
import { domainError } from "../lib/errors";
import { readIdempotencyKey } from "../lib/idempotency-key";
import { OrmMixin, type OrmMethods } from "../mixins/orm.mixin";
import { MAX_CHARGE_AMOUNT } from "../modules/points/ledger-math";
import { chargePoints, getWallet, listHistory } from "../modules/points/wallet-store";
import { CALL_TIMEOUT_MS, RETRY } from "../lib/call-policy";

/** What the gateway puts in ctx.meta (services/api.service.ts). */
interface RequestMeta {
  user?: { id: string };
  idempotencyKey?: string;
}

function callerId(ctx: Context<unknown, RequestMeta>): string {
  const user = ctx.meta.user;
  if (!user) throw domainError("UNAUTHORIZED", "This endpoint needs an Authorization: Bearer token");
  return user.id;
}

/** The caller's points wallet: balance, charges and the ledger (SPEC §3). */
const PointsService: ServiceSchema<{ rest: string }, Record<string, never>, OrmMethods> = {
  name: "points",
  mixins: [OrmMixin()],
  settings: { rest: "/points" },
  actions: {
    balance: {
      rest: "GET /",
      timeout: CALL_TIMEOUT_MS.read,
      retryPolicy: RETRY.safe, // read: repeating changes nothing
      auth: "required",
      params: {},
      handler(this: OrmMethods, ctx: Context<unknown, RequestMeta>) {
        return getWallet(this.em(), callerId(ctx));
      },
    },
    charge: {
      rest: "POST /charge",
      timeout: CALL_TIMEOUT_MS.write,
      retryPolicy: RETRY.withKey, // single only by its optional Idempotency-Key: without one it is sent once
      auth: "required",
      params: {
        // No `convert`: "100" is a client bug, not an amount.
        amount: { type: "number", integer: true, positive: true, max: MAX_CHARGE_AMOUNT },
      },
      handler(this: OrmMethods, ctx: Context<{ amount: number }, RequestMeta>) {
        const userId = callerId(ctx);
        const key = readIdempotencyKey(ctx.meta.idempotencyKey, false);
        return chargePoints(this.em(), userId, ctx.params.amount, key);
      },
    },
    history: {
      rest: "GET /history",
      timeout: CALL_TIMEOUT_MS.read,
      retryPolicy: RETRY.safe, // read: repeating changes nothing
      auth: "required",
      params: {
        limit: { type: "number", integer: true, min: 1, max: 100, convert: true, optional: true, default: 20 },
      },
      handler(this: OrmMethods, ctx: Context<{ limit: number }, RequestMeta>) {
        return listHistory(this.em(), callerId(ctx), ctx.params.limit);
      },
    },
  },
};

export default PointsService;
