/**
 * Transient PostgreSQL failures (SPEC §11): a lost connection, a server restarting or shutting
 * down, a serialization failure or a deadlock. A transaction that failed with one of these rolled
 * back, so running it again is safe; the one exception is a failure during COMMIT, whose outcome is
 * unknown (the commit may have happened and only its acknowledgement was lost). Each call site says
 * whether its transaction may then run again: yes when a repeat is single by an idempotency key or
 * by row state, no when a repeat could take effect twice or would answer wrongly.
 */
import type { EntityManager } from "@mikro-orm/postgresql";

/** SQLSTATEs worth another attempt. 55P03 (lock_not_available) is not one: holds use it as "taken". */
const TRANSIENT_SQLSTATES = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "57P01", // admin_shutdown (also pg_terminate_backend)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up / in recovery)
  "08000", // connection_exception
  "08001", // sqlclient_unable_to_establish_sqlconnection
  "08003", // connection_does_not_exist
  "08004", // sqlserver_rejected_establishment_of_sqlconnection
  "08006", // connection_failure
]);

const TRANSIENT_ERRNOS = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "ENOTCONN", "ECONNABORTED"]);

/**
 * What node-postgres says when the server side of a connection went away (no code attached), and
 * what knex says of a query sent on a transaction that its lost connection already ended.
 */
const LOST_CONNECTION = /connection terminated|terminating connection|not queryable|connection ended|server closed the connection|transaction query already complete/i;

/** True for an error (or one it wraps, as MikroORM's DriverException does) that is worth a retry. */
export function isTransientPgError(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== "object" || depth > 3) return false;
  const { code, sqlState, errno, message, cause, previous } = err as Record<string, unknown>;
  for (const value of [code, sqlState, errno]) {
    if (typeof value === "string" && (TRANSIENT_SQLSTATES.has(value) || TRANSIENT_ERRNOS.has(value))) return true;
  }
  if (typeof message === "string" && LOST_CONNECTION.test(message)) return true;
  return isTransientPgError(cause, depth + 1) || isTransientPgError(previous, depth + 1);
}

export interface RetryOptions {
  /** Attempts in all, the first included. */
  attempts: number;
  /** First backoff (ms); doubles, capped at maxMs, full jitter. */
  baseMs: number;
  maxMs: number;
  /** No new attempt starts after this much time since the first (ms). */
  budgetMs: number;
}

/** ~3 s in all: enough for a dropped connection or a failover blip, short of any request timeout. */
export const DEFAULT_RETRY: RetryOptions = { attempts: 5, baseMs: 100, maxMs: 1_000, budgetMs: 3_000 };

export function backoffMs(attempt: number, options: RetryOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * Runs `fn` again after a transient error, up to `attempts` times within `budgetMs`. `retryable`
 * (default: isTransientPgError) decides per error; any other error is thrown at once.
 */
export async function withTransientRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: Partial<RetryOptions> & { retryable?: (err: unknown) => boolean; onRetry?: (err: unknown, attempt: number) => void } = {},
): Promise<T> {
  const opts = { ...DEFAULT_RETRY, ...options };
  const retryable = options.retryable ?? isTransientPgError;
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const delay = backoffMs(attempt, opts);
      const outOfTime = Date.now() - started + delay > opts.budgetMs;
      if (attempt >= opts.attempts || outOfTime || !retryable(err)) throw err;
      options.onRetry?.(err, attempt);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

export interface TransactionRetryOptions extends Partial<RetryOptions> {
  /**
   * May the transaction run again when COMMIT itself failed (outcome unknown)? Only when a repeat
   * is single by an idempotency key or by row state; otherwise that failure is thrown.
   */
  repeatAfterLostCommit: boolean;
}

/**
 * `em.transactional(fn)`, run again after a transient PostgreSQL error. An error raised before
 * `fn` returned means the transaction rolled back; one raised after is from COMMIT.
 */
export function transactional<T>(em: EntityManager, fn: (tx: EntityManager) => Promise<T>, options: TransactionRetryOptions): Promise<T> {
  let committing = false;
  return withTransientRetry(
    () => {
      committing = false;
      return em.transactional(async (tx) => {
        const result = await fn(tx);
        committing = true;
        return result;
      });
    },
    { ...options, retryable: (err) => isTransientPgError(err) && (!committing || options.repeatAfterLostCommit) },
  );
}
