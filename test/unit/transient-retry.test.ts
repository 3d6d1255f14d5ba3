import { Errors } from "moleculer";
import { backoffMs, DEFAULT_RETRY, isTransientPgError, withTransientRetry } from "../../lib/db/transient-retry";
import { BROKER_RETRY_POLICY, isEndpointFailure, isRetryableCallError, RETRY } from "../../lib/call-policy";
import { domainError } from "../../lib/errors";

const pgError = (code: string, message = "boom") => Object.assign(new Error(message), { code });

describe("isTransientPgError", () => {
  it.each(["57P01", "57P02", "57P03", "08006", "08003", "08001", "40001", "40P01", "ECONNRESET", "ECONNREFUSED"])("retries %s", (code) => {
    expect(isTransientPgError(pgError(code))).toBe(true);
  });

  it.each(["55P03", "23505", "23514", "42P01", "22P02", "P0001"])("does not retry %s", (code) => {
    expect(isTransientPgError(pgError(code))).toBe(false);
  });

  it("knows node-postgres's lost-connection messages, which carry no code", () => {
    expect(isTransientPgError(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(isTransientPgError(new Error("Client has encountered a connection error and is not queryable"))).toBe(true);
    // knex, for the next query of a transaction whose connection was lost (seen in a PostgreSQL restart)
    expect(isTransientPgError(new Error("select 1 - Transaction query already complete, run with DEBUG=knex:tx for more info"))).toBe(true);
    expect(isTransientPgError(new Error("duplicate key value violates unique constraint"))).toBe(false);
  });

  it("looks into a wrapped driver error (MikroORM's DriverException keeps it as `previous`) and at sqlState", () => {
    expect(isTransientPgError({ name: "DriverException", message: "x", previous: pgError("40P01") })).toBe(true);
    expect(isTransientPgError({ name: "DriverException", message: "x", sqlState: "57P03" })).toBe(true);
    expect(isTransientPgError({ name: "Wrapper", message: "x", cause: pgError("23505") })).toBe(false);
  });

  it("never retries a domain error or a non-error", () => {
    expect(isTransientPgError(domainError("SEAT_UNAVAILABLE", "taken"))).toBe(false);
    expect(isTransientPgError(undefined)).toBe(false);
    expect(isTransientPgError("57P01")).toBe(false);
  });
});

describe("withTransientRetry", () => {
  const fast = { baseMs: 1, maxMs: 2 };

  it("runs again after transient errors and returns the first success", async () => {
    const seen: number[] = [];
    const result = await withTransientRetry(async (attempt) => {
      seen.push(attempt);
      if (attempt < 3) throw pgError(attempt === 1 ? "57P01" : "40001");
      return "done";
    }, fast);
    expect(result).toBe("done");
    expect(seen).toEqual([1, 2, 3]);
  });

  it("throws a non-transient error at once", async () => {
    let calls = 0;
    await expect(
      withTransientRetry(async () => {
        calls++;
        throw pgError("23505");
      }, fast),
    ).rejects.toMatchObject({ code: "23505" });
    expect(calls).toBe(1);
  });

  it("gives up after `attempts`, with the last error", async () => {
    let calls = 0;
    await expect(
      withTransientRetry(async () => {
        calls++;
        throw pgError("57P03", `attempt ${calls}`);
      }, { ...fast, attempts: 4 }),
    ).rejects.toThrow("attempt 4");
    expect(calls).toBe(4);
  });

  it("starts no attempt past the time budget", async () => {
    let calls = 0;
    const started = Date.now();
    await expect(
      withTransientRetry(async () => {
        calls++;
        throw pgError("08006");
      }, { attempts: 100, baseMs: 40, maxMs: 40, budgetMs: 150 }),
    ).rejects.toMatchObject({ code: "08006" });
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(calls).toBeLessThanOrEqual(6);
    expect(Date.now() - started).toBeLessThan(400);
  });

  it("backs off exponentially, capped and jittered, within ~3 s in all by default", () => {
    const opts = { ...DEFAULT_RETRY };
    expect(backoffMs(1, opts, () => 0)).toBe(50);
    expect(backoffMs(1, opts, () => 1)).toBe(100);
    expect(backoffMs(3, opts, () => 1)).toBe(400);
    expect(backoffMs(10, opts, () => 1)).toBe(1000);
    const worst = Array.from({ length: opts.attempts - 1 }, (_, i) => backoffMs(i + 1, opts, () => 1)).reduce((a, b) => a + b, 0);
    expect(worst).toBeLessThanOrEqual(opts.budgetMs);
  });
});

describe("call retry policy", () => {
  const check = (policy: object, err: Error) => isRetryableCallError.call({ ...BROKER_RETRY_POLICY, ...policy }, err);
  const rejected = new Errors.RequestRejectedError({ action: "a.b", nodeID: "n" });
  const timedOut = new Errors.RequestTimeoutError({ action: "a.b", nodeID: "n" });
  const notAvailable = new Errors.ServiceNotAvailableError({ action: "a.b", nodeID: "n" });

  it("sends a safe call again when its node is gone or too slow", () => {
    for (const err of [rejected, timedOut, notAvailable]) expect(check(RETRY.safe, err)).toBe(true);
  });

  it("sends a node-gone-only call again on a rejection, not after a timeout (it may still commit)", () => {
    expect(check(RETRY.nodeGone, rejected)).toBe(true);
    expect(check(RETRY.nodeGone, notAvailable)).toBe(true);
    expect(check(RETRY.nodeGone, timedOut)).toBe(false);
  });

  it("never repeats a domain answer or a server error, although Moleculer marks MoleculerServerError retryable", () => {
    const serverError = new Errors.MoleculerServerError("db down", 500, "INTERNAL");
    expect(serverError.retryable).toBe(true);
    expect(check(RETRY.safe, serverError)).toBe(false);
    expect(check(RETRY.safe, domainError("SEAT_UNAVAILABLE", "taken"))).toBe(false);
    expect(check(RETRY.safe, new Errors.ValidationError("bad", "VALIDATION_ERROR", []))).toBe(false);
  });

  it("leaves calls un-retried unless the action opts in", () => {
    expect(BROKER_RETRY_POLICY.enabled).toBe(true);
    expect(BROKER_RETRY_POLICY.retries).toBe(0);
  });
});

describe("circuit breaker failures", () => {
  it("counts timeouts, rejections and unexpected 5xx as endpoint failures", () => {
    expect(isEndpointFailure(new Errors.RequestTimeoutError({ action: "a", nodeID: "n" }))).toBe(true);
    expect(isEndpointFailure(new Errors.RequestRejectedError({ action: "a", nodeID: "n" }))).toBe(true);
    expect(isEndpointFailure(new Errors.MoleculerError("crash", 500))).toBe(true);
    expect(isEndpointFailure(Object.assign(new Error("pg"), { code: "XX000" }))).toBe(true);
  });

  it("does not count domain answers (4xx) or a shared dependency being down (503 SERVICE_UNAVAILABLE)", () => {
    expect(isEndpointFailure(domainError("SEAT_UNAVAILABLE", "taken"))).toBe(false);
    expect(isEndpointFailure(domainError("INSUFFICIENT_POINTS", "poor"))).toBe(false);
    expect(isEndpointFailure(new Errors.ValidationError("bad", "VALIDATION_ERROR", []))).toBe(false);
    expect(isEndpointFailure(domainError("SERVICE_UNAVAILABLE", "redis down"))).toBe(false);
  });
});
