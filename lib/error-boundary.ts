/**
 * The error boundary (SPEC §11): every node turns what its own drivers throw into the API's
 * vocabulary before the error leaves the action, because after a NATS hop only
 * name/message/code/type/data survive. The gateway applies the same rules once more to whatever
 * arrives (and to broker errors raised on the gateway itself). Clients see a domain error as is,
 * 503 SERVICE_UNAVAILABLE with `data.dependency`, or 500 INTERNAL_ERROR with the request id;
 * never driver text, library codes, paths or stacks. The real error is logged where it happened.
 */
import { Errors, type Context, type Middleware, type ServiceBroker } from "moleculer";
import { getConfig } from "./config";
import { classifyError, portOf, type Classification, type Dependency, type PortHints } from "./error-classify";
import { domainError, ErrorTypes, type ErrorType } from "./errors";

/** Seconds a client should wait before retrying, per unavailable dependency. */
export const RETRY_AFTER_S: Record<Dependency, number> = { redis: 5, postgres: 5, nats: 5, kafka: 5, service: 2 };

export class ServiceUnavailableError extends Errors.MoleculerError {
  constructor(dependency: Dependency) {
    super("The service is temporarily unavailable, please retry later", 503, "SERVICE_UNAVAILABLE", { dependency });
    this.name = "ServiceUnavailableError";
    // Another node may serve a call whose node died; a dependency outage is the same everywhere.
    this.retryable = dependency === "service";
  }
}

export class InternalError extends Errors.MoleculerError {
  constructor(requestId?: string) {
    super("Internal server error", 500, "INTERNAL_ERROR", requestId ? { requestId } : undefined);
    this.name = "InternalServerError";
  }
}

/** JSON nested too deep: 400 INVALID_JSON (malformed JSON stays 422 INVALID_JSON, SPEC §3 vs §11). */
export function jsonTooDeepError(maxDepth: number): Errors.MoleculerClientError {
  return new Errors.MoleculerClientError(`The JSON body is nested deeper than ${maxDepth} levels`, 400, "INVALID_JSON", { maxDepth });
}

let hints: PortHints | undefined;
/** The configured dependency ports, read once. */
export function configuredPortHints(): PortHints {
  if (hints) return hints;
  const config = getConfig();
  hints = {
    redis: [portOf(config.redisUrl, 6379)],
    postgres: [portOf(config.databaseUrl, 5432)],
    nats: config.transporter.startsWith("nats://") ? [portOf(config.transporter, 4222)] : [],
    kafka: config.kafkaBrokers.map((broker) => Number(broker.split(":").pop()) || 9092),
  };
  return hints;
}

/** moleculer-web's own 4xx types, in the API's vocabulary (lib/errors.ts). */
const LIBRARY_TYPES: Record<string, ErrorType> = {
  UNABLE_DECODE_PARAM: "NOT_FOUND", // a path whose %-escapes do not decode names no resource
  RATE_LIMIT_EXCEEDED: "RATE_LIMITED",
  INVALID_REQUEST_BODY: "INVALID_BODY",
  NO_TOKEN: "UNAUTHORIZED",
  INVALID_TOKEN: "UNAUTHORIZED",
  ERR_NO_TOKEN: "UNAUTHORIZED",
  ERR_INVALID_TOKEN: "UNAUTHORIZED",
};
const TYPE_BY_STATUS: Record<number, ErrorType> = {
  400: "INVALID_BODY",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  408: "REQUEST_TIMEOUT",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  422: "VALIDATION_ERROR",
  429: "RATE_LIMITED",
};

/** A domain error as is when its type is ours; a library's 4xx retyped (its data dropped). */
function inVocabulary(err: unknown): Error {
  const { type, code, message } = err as { type?: unknown; code?: unknown; message?: unknown };
  if (typeof type === "string" && Object.hasOwn(ErrorTypes, type)) return err as Error;
  const ours = (typeof type === "string" && LIBRARY_TYPES[type]) || TYPE_BY_STATUS[code as number];
  if (!ours) return err as Error;
  return domainError(ours, typeof message === "string" && ours !== "NOT_FOUND" ? message : "Not found");
}

export interface Sanitized {
  error: Error;
  classification: Classification;
  /** True when `error` is a new object (the original must be logged by the caller). */
  replaced: boolean;
}

function isBoundaryError(err: unknown, classification: Classification): boolean {
  const e = err as { name?: unknown; data?: { dependency?: unknown } };
  if (classification.kind === "unavailable") return e.name === "ServiceUnavailableError" && e.data?.dependency === classification.dependency;
  return e.name === "InternalServerError" && (err as { type?: unknown }).type === "INTERNAL_ERROR";
}

/**
 * What may leave a boundary for `err`. Domain errors pass; an error classified on another node
 * passes (re-stamped with `requestId` when internal); anything else is replaced.
 */
export function sanitizeError(err: unknown, requestId: string | undefined, portHints: PortHints = configuredPortHints()): Sanitized {
  const classification = classifyError(err, portHints);
  if (classification.kind === "domain") return { error: inVocabulary(err), classification, replaced: false };
  if (classification.kind === "unavailable") {
    if (isBoundaryError(err, classification)) return { error: err as Error, classification, replaced: false };
    return { error: new ServiceUnavailableError(classification.dependency), classification, replaced: true };
  }
  return { error: new InternalError(requestId), classification, replaced: !isBoundaryError(err, classification) };
}

export interface BoundaryLogger {
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** One line per dependency and second at most: an outage fails every request, the log need not say so every time. */
export class OutageLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  constructor(
    private readonly logger: BoundaryLogger,
    private readonly intervalMs = 1000,
  ) {}

  /** Logs the original error behind a replaced one. */
  record(where: string, err: unknown, sanitized: Sanitized, requestId?: string): void {
    if (!sanitized.replaced) return;
    const e = err as { name?: unknown; message?: unknown; code?: unknown };
    if (sanitized.classification.kind === "unavailable") {
      const key = sanitized.classification.dependency;
      const now = Date.now();
      const entry = this.last.get(key);
      if (entry && now - entry.at < this.intervalMs) {
        entry.suppressed++;
        return;
      }
      const suppressed = entry?.suppressed ?? 0;
      this.last.set(key, { at: now, suppressed: 0 });
      this.logger.warn(
        `${where}: ${key} unavailable (${String(e?.name)}: ${String(e?.message)}${e?.code ? `, code ${String(e.code)}` : ""})` +
          (suppressed ? `; ${suppressed} more since the last report` : ""),
      );
      return;
    }
    this.logger.error(`${where}: internal error, request ${requestId ?? "-"}`, err);
  }
}

/** Is this moleculer-web's own `rest` action? The gateway maps its errors in sendError instead. */
function isGatewayRest(action: { rawName?: string; service?: unknown }): boolean {
  return action.rawName === "rest" && typeof (action.service as { httpHandler?: unknown } | undefined)?.httpHandler === "function";
}

/** Broker middleware: the boundary around every local action (register on every node). */
export function ErrorBoundaryMiddleware(): Middleware {
  let log: OutageLog | undefined;
  return {
    name: "ErrorBoundary",
    created(broker: ServiceBroker) {
      log = new OutageLog(broker.getLogger("error-boundary"));
    },
    localAction(next, action) {
      if (isGatewayRest(action as { rawName?: string; service?: unknown })) return next;
      const where = String((action as { name?: string }).name);
      // Success costs one extra promise reaction; the classifier runs only on failures.
      const handler = next as unknown as (ctx: Context) => Promise<unknown>;
      return function errorBoundary(ctx: Context) {
        return handler(ctx).catch((err: unknown) => {
          const sanitized = sanitizeError(err, ctx.requestID ?? undefined);
          log?.record(where, err, sanitized, ctx.requestID ?? undefined);
          throw sanitized.error;
        });
      } as unknown as typeof next;
    },
  };
}
