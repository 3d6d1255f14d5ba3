/**
 * The error boundary's classifier and sanitizer on real error objects: ioredis, pg, MikroORM,
 * kafkajs, moleculer and moleculer-web classes, and errors as they look after a NATS hop.
 * Socket errors come from connecting to a port nobody listens on (no server involved).
 */
import { createServer } from "node:net";
import Redis, { ReplyError } from "ioredis";
import { Client, DatabaseError } from "pg";
import { ConnectionException, DeadlockException, DriverException, UniqueConstraintViolationException } from "@mikro-orm/core";
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded } from "kafkajs";
import { Errors, type ServiceBroker } from "moleculer";
import ApiGateway from "moleculer-web";
import { classifyError, isTransientSqlState, type PortHints } from "../../lib/error-classify";
import { InternalError, OutageLog, ServiceUnavailableError, sanitizeError } from "../../lib/error-boundary";
import { domainError, validationError } from "../../lib/errors";

const WebErrors = (ApiGateway as unknown as { Errors: Record<string, new (...args: any[]) => Error> }).Errors;

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function pgError(code: string, message: string): DatabaseError {
  const err = new DatabaseError(message, 0, "error");
  err.code = code;
  err.severity = "FATAL";
  return err;
}

/** What the receiving node rebuilds from the plain error that travelled over NATS. */
function afterNats(err: Error): Error {
  const regenerator = new Errors.Regenerator();
  regenerator.init({ nodeID: "worker-1" } as unknown as ServiceBroker);
  const plain = JSON.parse(JSON.stringify(regenerator.extractPlainError(err as Errors.MoleculerError, {})));
  return regenerator.restore(plain, { sender: "worker-1" });
}

let redisPort: number;
let pgPort: number;
let hints: PortHints;
let maxRetries: Error;
let closedConnection: Error;
let refused: Error;

beforeAll(async () => {
  redisPort = await closedPort();
  pgPort = await closedPort();
  hints = { redis: [redisPort], postgres: [pgPort] };
  const redis = new Redis({ port: redisPort, host: "127.0.0.1", maxRetriesPerRequest: 1, retryStrategy: () => 20, lazyConnect: false });
  redis.on("error", () => undefined);
  maxRetries = await redis.get("k").then(
    () => new Error("unexpected"),
    (err: Error) => err,
  );
  redis.disconnect();
  // A client that gave up reconnecting refuses commands with ioredis' "Connection is closed."
  const ended = new Redis({ port: redisPort, host: "127.0.0.1", retryStrategy: () => null });
  ended.on("error", () => undefined);
  await new Promise((resolve) => ended.once("end", resolve));
  closedConnection = await ended.get("k").then(
    () => new Error("unexpected"),
    (err: Error) => err,
  );
  const pg = new Client({ host: "127.0.0.1", port: pgPort, user: "postgres", connectionTimeoutMillis: 2000 });
  refused = await pg.connect().then(
    () => new Error("unexpected"),
    (err: Error) => err,
  );
});

describe("classifyError", () => {
  it("names redis for ioredis' own failures", () => {
    expect(maxRetries.name).toBe("MaxRetriesPerRequestError");
    expect(classifyError(maxRetries, hints)).toEqual({ kind: "unavailable", dependency: "redis" });
    expect(closedConnection.message).toBe("Connection is closed.");
    expect(classifyError(closedConnection, hints)).toEqual({ kind: "unavailable", dependency: "redis" });
    expect(classifyError(new ReplyError("LOADING Redis is loading the dataset in memory"))).toEqual({
      kind: "unavailable",
      dependency: "redis",
    });
  });

  it("keeps the dependency a service named in its own 503 (the lock mixin's), also after a NATS hop", () => {
    const lockDown = domainError("SERVICE_UNAVAILABLE", "The lock service is unavailable", { dependency: "redis" });
    expect(classifyError(lockDown)).toEqual({ kind: "unavailable", dependency: "redis" });
    expect(classifyError(afterNats(lockDown))).toEqual({ kind: "unavailable", dependency: "redis" });
    expect(sanitizeError(lockDown, "r").error).toMatchObject({ name: "ServiceUnavailableError", data: { dependency: "redis" } });
  });

  it("treats a Redis reply that blames the command as a bug", () => {
    expect(classifyError(new ReplyError("WRONGTYPE Operation against a key holding the wrong kind of value"))).toEqual({
      kind: "internal",
    });
  });

  it("names postgres for refused connections (by port), 57P01/57P03/08xxx and MikroORM wrappers", () => {
    expect((refused as { code?: string }).code).toBe("ECONNREFUSED");
    expect(classifyError(refused, hints)).toEqual({ kind: "unavailable", dependency: "postgres" });
    const shutdown = pgError("57P03", "the database system is shutting down");
    const terminated = pgError("57P01", "terminating connection due to administrator command");
    for (const err of [
      shutdown,
      terminated,
      pgError("08006", "connection failure"),
      new ConnectionException(terminated),
      new DriverException(shutdown),
      new DeadlockException(pgError("40001", "could not serialize access")),
      new Error("Connection terminated unexpectedly"),
      new DriverException(new Error("Transaction query already complete, run with DEBUG=knex:tx for more info")),
      new DriverException(Object.assign(new Error("select 1 - read ECONNRESET"), { code: "ECONNRESET" })),
      // as MikroORM rethrows it: the SQL, " - ", the driver's message
      new DriverException(new Error('select "c0".* from "concert" as "c0" - Connection terminated unexpectedly')),
      new Error("Knex: Timeout acquiring a connection. The pool is probably full."),
    ]) {
      expect(classifyError(err, hints)).toEqual({ kind: "unavailable", dependency: "postgres" });
    }
  });

  it("keeps a constraint violation nobody handled an internal error", () => {
    expect(classifyError(new UniqueConstraintViolationException(pgError("23505", "duplicate key")))).toEqual({ kind: "internal" });
    expect(classifyError(pgError("42P01", "relation does not exist"))).toEqual({ kind: "internal" });
  });

  it("looks through AggregateError and cause chains", () => {
    const refusedRedis = Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${redisPort}`), { code: "ECONNREFUSED", port: redisPort });
    expect(classifyError(new AggregateError([refusedRedis], "all failed"), hints)).toEqual({ kind: "unavailable", dependency: "redis" });
    expect(classifyError(new Error("wrapped", { cause: maxRetries }), hints)).toEqual({ kind: "unavailable", dependency: "redis" });
    // A socket error to a port we do not know is still "unavailable", owner unknown.
    expect(classifyError(Object.assign(new Error("reset"), { code: "ECONNRESET" }))).toEqual({ kind: "unavailable", dependency: "service" });
  });

  it("names kafka and nats", () => {
    expect(classifyError(new KafkaJSConnectionError("Connection error"))).toEqual({ kind: "unavailable", dependency: "kafka" });
    expect(classifyError(new KafkaJSNumberOfRetriesExceeded(new Error("x"), { retryCount: 5, retryTime: 100 }))).toEqual({
      kind: "unavailable",
      dependency: "kafka",
    });
    expect(classifyError(new (Errors.BrokerDisconnectedError as unknown as new () => Error)())).toEqual({ kind: "unavailable", dependency: "nats" });
  });

  it("says 'service' for moleculer's no-live-node errors, also after a NATS hop", () => {
    for (const err of [
      new Errors.ServiceNotFoundError({ action: "queue.enter" }),
      new Errors.ServiceNotAvailableError({ action: "queue.enter", nodeID: "w1" }),
      new Errors.RequestTimeoutError({ action: "queue.enter", nodeID: "w1" }),
      new Errors.RequestRejectedError({ action: "queue.enter", nodeID: "w1" }),
      new WebErrors.ServiceUnavailableError(),
      domainError("SERVICE_UNAVAILABLE", "The lock service is unavailable"),
    ]) {
      expect(classifyError(err)).toEqual({ kind: "unavailable", dependency: "service" });
      expect(classifyError(afterNats(err))).toEqual({ kind: "unavailable", dependency: "service" });
    }
  });

  it("keeps domain errors (typed 4xx), including validation and moleculer-web's own", () => {
    for (const err of [
      domainError("SEAT_UNAVAILABLE", "taken"),
      domainError("REQUEST_TIMEOUT", "slow body"),
      validationError("amount", "must be positive"),
      new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", []),
      new WebErrors.NotFoundError(),
      new WebErrors.RateLimitExceeded(),
    ]) {
      expect(classifyError(err)).toEqual({ kind: "domain" });
      expect(classifyError(afterNats(err))).toEqual({ kind: "domain" });
    }
  });

  it("calls everything else internal", () => {
    for (const err of [new TypeError("x is undefined"), "a string", null, undefined, 42, new Errors.MoleculerServerError("boom", 500)]) {
      expect(classifyError(err)).toEqual({ kind: "internal" });
    }
  });

  it("knows the transient SQLSTATEs", () => {
    expect(["57P01", "57P02", "57P03", "08000", "08006", "53300", "40001", "40P01", "57014"].every(isTransientSqlState)).toBe(true);
    expect(["23505", "42P01", "22P02", "XX000", "57P0"].some(isTransientSqlState)).toBe(false);
  });

  it("is cheap: a classified failure costs well under 20 µs", () => {
    const samples = [maxRetries, refused, new TypeError("x"), domainError("SEAT_UNAVAILABLE", "x"), pgError("57P01", "t")];
    const rounds = 20_000;
    const started = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) classifyError(samples[i % samples.length], hints);
    const perCallUs = Number(process.hrtime.bigint() - started) / 1000 / rounds;
    console.log(`classifyError: ${perCallUs.toFixed(2)} µs per failed call`);
    expect(perCallUs).toBeLessThan(20);
  });
});

describe("sanitizeError", () => {
  const leaks = /ECONNREFUSED|MaxRetries|ioredis|57P0|shutting down|node_modules|\/work\/|\bat /;

  it("replaces driver errors by a bare 503 naming the dependency", () => {
    for (const [err, dependency] of [
      [maxRetries, "redis"],
      [refused, "postgres"],
      [pgError("57P03", "the database system is shutting down"), "postgres"],
    ] as const) {
      const { error, replaced } = sanitizeError(err, "req-1", hints);
      expect(replaced).toBe(true);
      expect(error).toBeInstanceOf(ServiceUnavailableError);
      expect(error).toMatchObject({ code: 503, type: "SERVICE_UNAVAILABLE", data: { dependency } });
      const body = JSON.stringify({ name: error.name, message: error.message, data: (error as ServiceUnavailableError).data });
      expect(body).not.toMatch(leaks);
    }
  });

  it("replaces unknown errors by a generic 500 carrying the request id", () => {
    const { error } = sanitizeError(new Error("ENOENT: no such file, open '/work/main/x.json'"), "req-42");
    expect(error).toMatchObject({ code: 500, type: "INTERNAL_ERROR", message: "Internal server error", data: { requestId: "req-42" } });
    expect(JSON.stringify(error)).not.toMatch(leaks);
  });

  it("passes domain errors and errors classified on another node unchanged", () => {
    const seat = domainError("SEAT_UNAVAILABLE", "taken", { seatIds: [1] });
    expect(sanitizeError(seat, "r").error).toBe(seat);
    const remote = afterNats(new ServiceUnavailableError("redis"));
    const result = sanitizeError(remote, "r");
    expect(result).toMatchObject({ replaced: false, classification: { kind: "unavailable", dependency: "redis" } });
    expect(result.error).toBe(remote);
    // An internal error from a worker is re-stamped with the gateway's request id.
    const internal = sanitizeError(afterNats(new InternalError("worker-req")), "gateway-req");
    expect(internal).toMatchObject({ replaced: false, error: { data: { requestId: "gateway-req" } } });
  });
});

describe("library 4xx types", () => {
  it("are retyped into the API's vocabulary, keeping domain errors as they are", () => {
    const limited = sanitizeError(new WebErrors.RateLimitExceeded(), "r").error;
    expect(limited).toMatchObject({ code: 429, type: "RATE_LIMITED" });
    const badParam = sanitizeError(new WebErrors.BadRequestError("UNABLE_DECODE_PARAM", { param: "%E0%A4%A" }), "r").error;
    expect(badParam).toMatchObject({ code: 404, type: "NOT_FOUND", message: "Not found" });
    expect((badParam as { data?: unknown }).data).toBeUndefined();
    const validation = new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", []);
    expect(sanitizeError(validation, "r").error).toBe(validation);
  });
});

describe("OutageLog", () => {
  it("logs an outage once per interval and counts what it suppressed; internal errors always", () => {
    const lines: string[] = [];
    const errors: unknown[] = [];
    const log = new OutageLog({ warn: (line: unknown) => lines.push(String(line)), error: (...args: unknown[]) => errors.push(args) }, 60_000);
    for (let i = 0; i < 5; i++) log.record("queue.enter", maxRetries, sanitizeError(maxRetries, "r", hints));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/redis unavailable \(MaxRetriesPerRequestError/);
    const bug = new TypeError("boom");
    log.record("queue.enter", bug, sanitizeError(bug, "r"));
    log.record("queue.enter", bug, sanitizeError(bug, "r"));
    expect(errors).toHaveLength(2);
  });
});
