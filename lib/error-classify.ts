/**
 * Pure classification of any thrown value into what a client may learn about it (SPEC §11):
 * a domain error (kept as is), a dependency that is unavailable (503), or an internal error (500).
 * Only looks at own fields (name, code, type, message prefix), never at stacks, so it stays cheap
 * even when every request of an outage fails. Works on live driver errors on the node that threw
 * them and on the plain {name,message,code,type,data} that survives a NATS hop.
 */

export type Dependency = "redis" | "postgres" | "nats" | "kafka" | "service";
export const DEPENDENCIES: readonly Dependency[] = ["redis", "postgres", "nats", "kafka", "service"];

export type Classification =
  | { kind: "domain" }
  | { kind: "unavailable"; dependency: Dependency }
  | { kind: "internal" };

/** Server ports of the dependencies, to name the owner of a bare socket error (ECONNREFUSED …). */
export interface PortHints {
  redis?: number[];
  postgres?: number[];
  nats?: number[];
  kafka?: number[];
}

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  type?: unknown;
  data?: unknown;
  port?: unknown;
  severity?: unknown;
  sqlState?: unknown;
  cause?: unknown;
  errors?: unknown;
}

const DOMAIN: Classification = { kind: "domain" };
const INTERNAL: Classification = { kind: "internal" };
const UNAVAILABLE: Record<Dependency, Classification> = {
  redis: { kind: "unavailable", dependency: "redis" },
  postgres: { kind: "unavailable", dependency: "postgres" },
  nats: { kind: "unavailable", dependency: "nats" },
  kafka: { kind: "unavailable", dependency: "kafka" },
  service: { kind: "unavailable", dependency: "service" },
};

/** Moleculer's own "nobody could answer" errors (after a NATS hop only the name is left). */
const BROKER_ERRORS: Record<string, Dependency> = {
  ServiceNotFoundError: "service",
  ServiceNotAvailableError: "service",
  RequestTimeoutError: "service",
  RequestRejectedError: "service",
  QueueIsFullError: "service",
  GracefulStopTimeoutError: "service",
  BrokerDisconnectedError: "nats",
  NatsError: "nats",
};

const REDIS_NAMES = new Set(["MaxRetriesPerRequestError", "AbortError", "ClusterAllFailedError", "LockError"]);
/** Redis replies that say "not now" rather than "your command is wrong". */
const REDIS_TRANSIENT_REPLY = /^(LOADING|BUSY|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|OOM|NOREPLICAS)\b/;
const REDIS_MESSAGES = /^(Connection is closed\.|Stream isn't writeable|Reached the max retries per request limit)/;

const PG_NAMES = new Set(["ConnectionException", "DeadlockException", "LockWaitTimeoutException", "KnexTimeoutError"]);
// Anchored at the start, or after the " - " with which MikroORM/knex prefix the failed SQL.
const PG_MESSAGES =
  /(?:^|\s-\s)(Connection terminated|Client has encountered a connection error|Client was closed and is not queryable|timeout exceeded when trying to connect|Knex: Timeout acquiring a connection|Cannot use a pool after calling end|the database system is (shutting down|starting up|in recovery mode)|terminating connection due to administrator command|Transaction query already complete)/;

/** Socket-level failures: whoever we were talking to is not there. */
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNABORTED",
]);

/**
 * SQLSTATEs that mean "PostgreSQL cannot serve this right now": connection exceptions (08xxx),
 * admin/crash shutdown and "cannot connect now" (57P01-57P03), statement cancelled or timed out
 * (57014), insufficient resources (53xxx), and serialization failure / deadlock (40001/40P01).
 */
export function isTransientSqlState(code: string): boolean {
  if (code.length !== 5) return false;
  const cls = code.slice(0, 2);
  return cls === "08" || cls === "53" || code === "57P01" || code === "57P02" || code === "57P03" || code === "57014" || code === "40001" || code === "40P01";
}

function isDependency(value: unknown): value is Dependency {
  return typeof value === "string" && (DEPENDENCIES as readonly string[]).includes(value);
}

function byPort(port: unknown, hints: PortHints): Dependency {
  if (typeof port === "number") {
    for (const dependency of ["postgres", "redis", "nats", "kafka"] as const) {
      if (hints[dependency]?.includes(port)) return dependency;
    }
  }
  return "service";
}

/** Infrastructure signals of one error object (not its causes). */
function infrastructure(e: ErrorLike, hints: PortHints): Dependency | null {
  const name = typeof e.name === "string" ? e.name : "";
  const code = typeof e.code === "string" ? e.code : "";
  const message = typeof e.message === "string" ? e.message : "";
  if (REDIS_NAMES.has(name) || REDIS_MESSAGES.test(message)) return "redis";
  if (name === "ReplyError") return REDIS_TRANSIENT_REPLY.test(message) ? "redis" : null;
  if (name.startsWith("KafkaJS")) return "kafka";
  if (PG_NAMES.has(name) || PG_MESSAGES.test(message)) return "postgres";
  // pg's DatabaseError carries `severity`; MikroORM's DriverException copies `code`/`sqlState`.
  const sqlState = typeof e.sqlState === "string" ? e.sqlState : code;
  if ((e.severity !== undefined || name.endsWith("Exception") || typeof e.sqlState === "string") && isTransientSqlState(sqlState)) {
    return "postgres";
  }
  // MikroORM's DriverException family wraps only database errors, whatever the socket said.
  if (SOCKET_CODES.has(code)) return name.endsWith("Exception") ? "postgres" : byPort(e.port, hints);
  return null;
}

/** Classifies a thrown value. `hints` names the owner of bare socket errors by port. */
export function classifyError(err: unknown, hints: PortHints = {}): Classification {
  if (err === null || typeof err !== "object") return INTERNAL;
  const e = err as ErrorLike;
  const name = typeof e.name === "string" ? e.name : "";
  const broker = BROKER_ERRORS[name];
  if (broker) return UNAVAILABLE[broker];
  const code = e.code;
  if (typeof code === "number") {
    // Already classified (on another node, or a 503 a service chose to raise itself).
    if (code === 503 && (e.type === "SERVICE_UNAVAILABLE" || name === "ServiceUnavailableError")) {
      const dependency = (e.data as { dependency?: unknown } | undefined)?.dependency;
      return UNAVAILABLE[isDependency(dependency) ? dependency : "service"];
    }
    if (code >= 400 && code < 500) return DOMAIN;
  }
  // Walk a short chain of causes: MikroORM, AggregateError (dual-stack connect) and friends wrap the driver's error.
  let current: ErrorLike | undefined = e;
  for (let depth = 0; current && depth < 4; depth++) {
    const found = infrastructure(current, hints);
    if (found) return UNAVAILABLE[found];
    const inner: unknown = Array.isArray(current.errors) && current.errors.length > 0 ? current.errors[0] : current.cause;
    current = inner !== null && typeof inner === "object" ? (inner as ErrorLike) : undefined;
  }
  return INTERNAL;
}

/** Ports named in the configured URLs (for PortHints). */
export function portOf(url: string, fallback: number): number {
  try {
    const port = new URL(url).port;
    return port ? Number(port) : fallback;
  } catch {
    return fallback;
  }
}
