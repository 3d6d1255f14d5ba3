import type { Context, Service, ServiceSchema } from "moleculer";
import { getConfig } from "../lib/config";
import { domainError } from "../lib/errors";
import { checkActiveToken, tokenWasLeft } from "../modules/queue/active-check";
import type { RedisMethods } from "./redis.mixin";
import { RedisMixin } from "./redis.mixin";

interface GuardMeta {
  user?: { id: string };
  queueToken?: string;
}

/**
 * Actions that declare `queueGuard: (ctx) => concertId` run only for a caller holding an ACTIVE
 * queue token (X-Queue-Token) of that concert: 401 QUEUE_TOKEN_INVALID for a token that is not
 * theirs or not genuine, 403 QUEUE_NOT_ACTIVE otherwise (also without a token). A resolver that
 * returns null says this call needs no token at all. An action may also declare
 * `queueGuardLiveHold: (ctx) => boolean`: a genuine token of the caller that is no longer ACTIVE
 * (the active period ran out, or Redis lost the queue) still passes while that says the caller is
 * using a live hold (SPEC §8: ACTIVE lasts while it is used) — unless its user left the queue. Params are validated before the guard runs
 * (the validator middleware wraps the hooks). The check reads Redis directly (one round trip) so
 * the guard adds no broker hop to hot paths.
 */
export function QueueGuardMixin(): Partial<ServiceSchema> {
  const mixin: Partial<ServiceSchema> & { merged(schema: Partial<ServiceSchema>): void } = {
    mixins: [RedisMixin()],
    /**
     * Functions do not travel in the service info other nodes see: a plain marker tells the
     * gateway's OpenAPI document that the action needs an X-Queue-Token.
     */
    merged(schema: Partial<ServiceSchema>) {
      for (const action of Object.values(schema.actions ?? {})) {
        if (action && typeof action === "object" && typeof action.queueGuard === "function") {
          (action as { queueToken?: boolean }).queueToken = true;
        }
      }
    },
    hooks: {
      before: {
        async "*"(this: Service & RedisMethods, ctx: Context<unknown, GuardMeta>) {
          const action = ctx.action as
            | { queueGuard?: (c: Context) => number | null | Promise<number | null>; queueGuardLiveHold?: (c: Context) => Promise<boolean> }
            | undefined;
          const resolveConcert = action?.queueGuard;
          if (!resolveConcert) return;
          const user = ctx.meta.user;
          if (!user) throw domainError("UNAUTHORIZED", "This endpoint needs an Authorization: Bearer token");
          const concertId = await resolveConcert.call(this, ctx);
          if (concertId === null) return;
          if (!ctx.meta.queueToken) throw domainError("QUEUE_NOT_ACTIVE", "An ACTIVE queue token (X-Queue-Token) is required");
          const config = getConfig();
          const state = await checkActiveToken(
            this.redis,
            config.redisPrefix,
            config.queueTokenSecret,
            ctx.meta.queueToken,
            user.id,
            concertId,
          );
          if (state === "INVALID") throw domainError("QUEUE_TOKEN_INVALID", "The queue token is not valid for this user and concert");
          // Ran out or lost with Redis, not left by the user: a live hold keeps it usable.
          if (
            state === "NOT_ACTIVE" &&
            action?.queueGuardLiveHold &&
            !(await tokenWasLeft(this.redis, config.redisPrefix, config.queueTokenSecret, ctx.meta.queueToken, concertId)) &&
            (await action.queueGuardLiveHold.call(this, ctx))
          ) {
            return;
          }
          if (state === "NOT_ACTIVE") throw domainError("QUEUE_NOT_ACTIVE", "The queue token is not ACTIVE for this concert", { concertId });
        },
      },
    },
  };
  return mixin;
}
