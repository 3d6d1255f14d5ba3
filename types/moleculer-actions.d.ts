/**
 * Action properties this system adds to Moleculer's action schema; mixins and the gateway read them.
 *   auth: "required"  the gateway answers 401 without a bearer user (services/api.service.ts);
 *         "admin"     also 403 FORBIDDEN unless the token's roles contain "admin"
 *   queueGuard        the action needs an ACTIVE queue token (mixins/queue-guard.mixin.ts)
 *   lock              the Redis locks the action takes (mixins/redlock.mixin.ts)
 */
import "moleculer";
import type { LockOption, QueueGuardOption } from "../mixins/action-options";

declare module "moleculer" {
  interface ActionSchema {
    auth?: "required" | "admin";
    queueGuard?: QueueGuardOption;
    lock?: LockOption;
  }
}
