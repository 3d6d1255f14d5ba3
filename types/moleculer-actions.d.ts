/**
 * Action properties this system adds to Moleculer's action schema; mixins and the gateway read them.
 *   auth: "required"  the gateway answers 401 without a bearer user (services/api.service.ts)
 *   queueGuard        the action needs an ACTIVE queue token (mixins/queue-guard.mixin.ts)
 *   lock              the Redis locks the action takes (mixins/redlock.mixin.ts)
 */
import "moleculer";
import type { LockOption, QueueGuardOption } from "../mixins/action-options";

declare module "moleculer" {
  interface ActionSchema {
    auth?: "required";
    queueGuard?: QueueGuardOption;
    lock?: LockOption;
  }
}
