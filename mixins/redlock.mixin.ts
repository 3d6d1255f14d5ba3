import type { Context, Service, ServiceSchema } from "moleculer";
import Redlock from "redlock";
import { getConfig } from "../lib/config";
import { domainError } from "../lib/errors";
import type { LockOption } from "./action-options";
import { RedisMixin, type RedisMethods } from "./redis.mixin";

/**
 * Distributed locks declared by actions:
 *
 *   lock: { keys: (ctx) => taggedLockNames(`s${ctx.params.scheduleId}`, ["seat:7", "seat:9"]), ttl: 5000 }
 *
 * Redis Cluster: redlock's script can only touch keys of one hash slot, so the names of one
 * acquisition carry one hash tag (`{s12}:seat:7` → key `<prefix>lock:{s12}:seat:7`); the tag must be a
 * function of each name alone (here: the seat's schedule), or two calls could lock one seat under two keys.
 * In cluster mode an acquisition whose names do not share a tag is refused (a bug, not contention).
 *
 * Around the handler (after params validation and `before` hooks such as the queue guard), all keys
 * of the call are taken in ONE redlock acquisition: redlock 4's Lua script checks every key and
 * sets them all or none, so two calls with overlapping keys can never hold one key each and wait
 * for the other. There is no retry: a key someone else holds answers 409 at once (the user should
 * pick another seat, not wait). The lock is released when the handler settles, owner-checked by
 * redlock (a lease that expired and was taken by someone else is not deleted).
 *
 * The lease is renewed at half its TTL while the handler runs, so a slow handler keeps its lock
 * whatever the request timeout is. If a renewal fails (Redis unreachable, or the key expired and
 * someone else took it) the call is marked `lost` (see `heldLocks(ctx)`) and a warning is logged:
 * from then on the Redis lock no longer excludes anyone, so the handler's own database guard (row
 * locks, unique indexes) is what decides. The lock is an optimisation that keeps contention away
 * from PostgreSQL, never the only guard.
 */
export interface RedlockMixinOptions {
  /** Read on every call; when it answers false the mixin takes no lock at all. Default: on. */
  enabled?: () => boolean;
  /** Lease of actions that declare no `ttl` (ms). */
  defaultTtlMs?: number;
  /** The error for lock names (as the action gave them) held by someone else. Default: 409 SEAT_UNAVAILABLE. */
  conflictError?: (names: string[]) => Error;
}

/** What an action's handler can learn about the locks of its call (`heldLocks(ctx)`). */
export interface HeldLocks {
  /** Full Redis keys, prefixed, deduplicated and sorted. */
  keys: string[];
  /** True once a renewal failed: the lock may have passed to someone else meanwhile. */
  lost: boolean;
}

export interface RedlockMethods extends RedisMethods {
  redlock: Redlock;
  runLocked<T>(option: LockOption, ctx: Context, run: () => Promise<T>): Promise<T>;
}

export const DEFAULT_LOCK_TTL_MS = 5_000;
const LOCKS_LOCAL = "redlock";
const WRAPPED = Symbol("redlock-wrapped");

/** Redis keys for the lock names of one call: under REDIS_PREFIX + "lock:", unique, sorted. */
export function lockResources(prefix: string, names: readonly string[]): string[] {
  return [...new Set(names)].map((name) => `${prefix}lock:${name}`).sort();
}

/** Lock names that share the hash tag `{tag}`, so they can be taken in one acquisition on a Redis Cluster. */
export function taggedLockNames(tag: string, names: readonly string[]): string[] {
  if (!/^[^{}]+$/.test(tag)) throw new RangeError(`A lock hash tag must be non-empty and brace-free, got "${tag}"`);
  return names.map((name) => `{${tag}}:${name}`);
}

/** A lock name without its hash tag, as conflict errors report it ("{s12}:seat:7" → "seat:7"). */
export function untaggedLockName(name: string): string {
  return name.replace(/^\{[^{}]+\}:/, "");
}

/** Redis's hash tag of a key: the text between the first "{" and the next "}" if non-empty, else the whole key. */
export function hashTag(key: string): string {
  const open = key.indexOf("{");
  const close = open < 0 ? -1 : key.indexOf("}", open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

export function heldLocks(ctx: Context): HeldLocks | undefined {
  return (ctx.locals as Record<string, unknown>)[LOCKS_LOCAL] as HeldLocks | undefined;
}

/** Keeps a lock's lease alive until stopped; marks `held.lost` when a renewal fails. */
class LeaseKeeper {
  private timer?: NodeJS.Timeout;
  private renewal: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly lock: Redlock.Lock,
    private readonly ttlMs: number,
    private readonly held: HeldLocks,
    private readonly onLost: (err: unknown) => void,
  ) {
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.renewal = this.renew();
    }, Math.max(1, Math.floor(this.ttlMs / 2)));
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    try {
      await this.lock.extend(this.ttlMs);
      this.schedule();
    } catch (err) {
      this.held.lost = true;
      this.onLost(err);
    }
  }

  /** Stops renewing and releases; a release that fails only means the lease ends by its TTL. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.renewal;
    await this.lock.unlock().catch(() => undefined);
  }
}

const CLIENT_ERROR_AT = Symbol("redlockClientErrorAt");
/** A Redis error this recent means a failed acquisition was the connection's fault, not contention. */
const CLIENT_ERROR_WINDOW_MS = 1000;
type LockErrorClock = { [CLIENT_ERROR_AT]?: number };

export function RedlockMixin(options: RedlockMixinOptions = {}): Partial<ServiceSchema> {
  const enabled = options.enabled ?? (() => true);
  const defaultTtlMs = options.defaultTtlMs ?? DEFAULT_LOCK_TTL_MS;
  const conflictError =
    options.conflictError ??
    ((names: string[]) => domainError("SEAT_UNAVAILABLE", "Someone else is changing this right now", { locks: names }));

  const mixin: Partial<ServiceSchema> & { merged(schema: Partial<ServiceSchema>): void } = {
    mixins: [RedisMixin()],
    /** Wraps the handler of every action that declares `lock`, once the service schema is complete. */
    merged(schema: Partial<ServiceSchema>) {
      const actions = schema.actions ?? {};
      for (const [name, action] of Object.entries(actions)) {
        if (typeof action !== "object" || !action.lock || !action.handler) continue;
        const handler = action.handler as ((this: Service, ctx: Context) => unknown) & { [WRAPPED]?: true };
        if (handler[WRAPPED]) continue;
        const lock = action.lock;
        const locked = function (this: Service & RedlockMethods, ctx: Context) {
          return this.runLocked(lock, ctx, async () => handler.call(this, ctx));
        } as typeof handler;
        locked[WRAPPED] = true;
        actions[name] = { ...action, handler: locked };
      }
    },
    methods: {
      async runLocked<T>(this: Service & RedlockMethods, option: LockOption, ctx: Context, run: () => Promise<T>): Promise<T> {
        if (!enabled()) return run();
        const names = option.keys.call(this, ctx);
        const config = getConfig();
        const keys = lockResources(config.redisPrefix, names);
        if (keys.length === 0) return run();
        if (config.redisClusterNodes.length > 0 && new Set(keys.map(hashTag)).size > 1) {
          throw new Error(`${ctx.action?.name} locks ${keys.join(", ")}: keys of several hash slots cannot be locked at once on a Redis Cluster`);
        }
        const ttlMs = option.ttl ?? defaultTtlMs;
        let lock: Redlock.Lock;
        try {
          lock = await this.redlock.acquire(keys, ttlMs);
        } catch (err) {
          if (!(err instanceof Redlock.LockError)) throw err;
          // A failed acquisition is contention, unless Redis itself is unreachable: redlock reports a
          // client error before it gives up, and the client's status lags a connection just lost.
          const clientFailed = Date.now() - ((this as unknown as LockErrorClock)[CLIENT_ERROR_AT] ?? 0) < CLIENT_ERROR_WINDOW_MS;
          if (clientFailed || this.redis.status !== "ready") throw domainError("SERVICE_UNAVAILABLE", "The lock service is unavailable", { dependency: "redis" });
          throw conflictError([...new Set(names.map(untaggedLockName))].sort());
        }
        const held: HeldLocks = { keys, lost: false };
        (ctx.locals as Record<string, unknown>)[LOCKS_LOCAL] = held;
        const lease = new LeaseKeeper(lock, ttlMs, held, (err) =>
          this.logger.warn(`Lost the lock lease of ${ctx.action?.name} on ${keys.join(", ")}; the database guard decides`, err),
        );
        try {
          return await run();
        } finally {
          await lease.release();
          if (held.lost) this.logger.warn(`${ctx.action?.name} finished after losing its lock on ${keys.join(", ")}`);
        }
      },
    },
    started(this: Service) {
      const self = this as Service & RedlockMethods;
      // redlock 4 is typed for callback-style clients; ioredis 5 (one server or a Cluster, which
      // routes the script by its keys' slot) accepts the same eval/evalsha calls.
      // retryCount 0 must be set here: redlock 4 treats a per-call retryCount of 0 as "use default".
      self.redlock = new Redlock([self.redis as unknown as Redlock.CompatibleRedisClient], {
        retryCount: 0,
        driftFactor: 0.01,
      });
      self.redlock.on("clientError", (err: unknown) => {
        (this as unknown as LockErrorClock)[CLIENT_ERROR_AT] = Date.now();
        this.logger.debug("redlock client error", err);
      });
    },
  };
  return mixin;
}
