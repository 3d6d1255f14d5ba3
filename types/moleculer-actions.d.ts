/**
 * Action properties this system adds to Moleculer's action schema; mixins and the gateway read them.
 *   auth: "required"  the gateway answers 401 without a bearer user (services/api.service.ts);
 *         "admin"     also 403 FORBIDDEN unless the token's roles contain "admin"
 *   queueGuard        the action needs an ACTIVE queue token (mixins/queue-guard.mixin.ts)
 *   queueGuardLiveHold  ...or a genuine one while the caller uses a live hold (same mixin)
 *   lock              the Redis locks the action takes (mixins/redlock.mixin.ts)
 *   timeout           ms a call may take (Moleculer reads it; its typings omit it; lib/call-policy.ts)
 */
import "moleculer";
import type { LockOption, QueueGuardLiveHoldOption, QueueGuardOption } from "../mixins/action-options";

declare module "moleculer" {
  interface ActionSchema {
    auth?: "required" | "admin";
    queueGuard?: QueueGuardOption;
    queueGuardLiveHold?: QueueGuardLiveHoldOption;
    lock?: LockOption;
    timeout?: number;
  }
}
