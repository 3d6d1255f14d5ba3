import type { Context } from "moleculer";

/** Resolves the concert whose ACTIVE queue token the action needs. */
export type QueueGuardOption = (ctx: Context<any, any>) => number | Promise<number>;

/** Redis locks an action takes before its handler runs (see mixins/redlock.mixin.ts). */
export interface LockOption {
  /** Lock resource names for this call; taken together, sorted, all or nothing. */
  keys: (ctx: Context<any, any>) => string[];
  /** Lease in ms; renewed while the handler runs. */
  ttl?: number;
}
