import type { Context } from "moleculer";

/**
 * Resolves the concert whose ACTIVE queue token the action needs; null when this call needs none
 * (e.g. an idempotent replay of a payment that already succeeded and expired the token).
 */
export type QueueGuardOption = (ctx: Context<any, any>) => number | null | Promise<number | null>;

/** Whether the caller, whose genuine token is no longer ACTIVE, is using a live hold (it still passes). */
export type QueueGuardLiveHoldOption = (ctx: Context<any, any>) => Promise<boolean>;

/** Redis locks an action takes before its handler runs (see mixins/redlock.mixin.ts). */
export interface LockOption {
  /** Lock resource names for this call; taken together, sorted, all or nothing. */
  keys: (ctx: Context<any, any>) => string[];
  /** Lease in ms; renewed while the handler runs. */
  ttl?: number;
}
