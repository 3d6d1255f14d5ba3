/**
 * The one place configuration is read: environment variables with working local defaults.
 * `getConfig()` reads process.env once; tests that need other values call `resetConfig()` after
 * changing process.env (each jest file runs in its own worker).
 */

export interface Config {
  nodeEnv: string;
  production: boolean;
  /** `npm start` / `npm run seed` write the demo concerts: SEED_DEMO, default on except in production. */
  seedDemo: boolean;
  nodeId?: string;
  namespace: string;
  logLevel: string;
  port: number;
  metricsPort: number;
  metricsEnabled: boolean;
  databaseUrl: string;
  dbPoolMax: number;
  redisUrl: string;
  /**
   * REDIS_CLUSTER_NODES (comma list of host:port): when set every Redis client of the system is an
   * ioredis Cluster seeded with these nodes (credentials and TLS still come from REDIS_URL); empty: one Redis.
   */
  redisClusterNodes: RedisNode[];
  /** Prefix of every Redis key the system writes (queue, cache, locks, rankings, rate limit). */
  redisPrefix: string;
  transporter: string;
  requestTimeoutMs: number;
  /** Heartbeat period of every node (s) and how long a silent peer is kept before it is dropped (ms). */
  heartbeatIntervalS: number;
  nodeTimeoutMs: number;
  kafkaBrokers: string[];
  kafkaClientId: string;
  kafkaTopicPaymentCompleted: string;
  kafkaTopicPaymentCompletedDlq: string;
  kafkaTopicPaymentRefunded: string;
  kafkaTopicPaymentRefundedDlq: string;
  kafkaTopicPartitions: number;
  kafkaConsumerGroup: string;
  dataPlatformUrl: string;
  dataPlatformPort: number;
  dataPlatformTimeoutMs: number;
  /** Exponential backoff of data-platform retries: first delay and cap (ms), jittered. */
  dataPlatformRetryBaseMs: number;
  dataPlatformRetryMaxMs: number;
  outboxRelayIntervalMs: number;
  outboxRelayDelayMs: number;
  /** Published outbox rows older than this are purged (hours). */
  outboxRetentionH: number;
  services: string;
  /** HS256 key; "" when production verifies only by public key / JWKS (then HS256 tokens are refused). */
  authJwtSecret: string;
  /** When set, a token's `iss` / `aud` must match (AUTH_JWT_ISSUER / AUTH_JWT_AUDIENCE). */
  authJwtIssuer?: string;
  authJwtAudience?: string;
  /** Leeway for `exp` / `nbf` against clock skew between the identity provider and the gateway (s). */
  authJwtClockToleranceS: number;
  /** PEM public key (RS256/ES256/EdDSA) and/or a JWKS URL of the identity provider. */
  authJwtPublicKey?: string;
  authJwksUrl?: string;
  /** Comma-separated keys: the first signs, every one verifies (rotation: "new,old"). */
  queueTokenSecret: string;
  /** A queue token's lifetime from entry (s); longer than any wait plus QUEUE_ACTIVE_TTL_S. */
  queueTokenTtlS: number;
  queueAdmitIntervalMs: number;
  queueAdmitBatch: number;
  queueActiveMax: number;
  queueActiveTtlS: number;
  /** A waiting user seen neither by a poll nor by an open stream for this long loses the place (s). */
  queueWaitingIdleS: number;
  /** A queue stream (SSE) writes a comment line at least this often (ms). */
  queueStreamKeepAliveMs: number;
  seatCacheTtlS: number;
  reservationHoldS: number;
  reservationSweepS: number;
  /** Seats one user may have in live (HELD or CONFIRMED) reservations of one schedule. */
  reservationMaxSeatsPerUser: number;
  /** Switch for the Redis lock in front of seat holds; PostgreSQL alone must still be correct. */
  reservationRedlock: boolean;
  rateLimitPerMin: number;
  /** Budget of the abuse-prone routes (dev-token, queue entry, payments) per user or IP; never above RATE_LIMIT_PER_MIN. */
  rateLimitStrictPerMin: number;
  /** Which peers may set X-Forwarded-For: "" trusts none, a hop count ("1"), or a CIDR list. */
  trustProxy: string;
  /** Origins allowed by CORS (CORS_ORIGINS, comma-separated); empty: CORS off. */
  corsOrigins: string[];
  bodyLimit: string;
  /** Receiving a whole HTTP request may take this long; a stalled body is answered 408. */
  httpRequestTimeoutMs: number;
}

export interface RedisNode {
  host: string;
  port: number;
}

const DEV_JWT_SECRET = "dev-only-auth-secret-change-me";
const DEV_QUEUE_SECRET = "dev-only-queue-secret-change-me";

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value === undefined || value === "" ? fallback : value;
}

function int(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`Configuration: ${name} must be an integer >= ${min}, got "${raw}"`);
  }
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error(`Configuration: ${name} must be true or false, got "${raw}"`);
}

// Values published in this repository (and its old docker-compose.yml): anyone can sign with them.
const PUBLIC_SECRETS = new Set([DEV_JWT_SECRET, DEV_QUEUE_SECRET, "change-me-compose-auth-secret", "change-me-compose-queue-secret"]);
const MIN_SECRET_BYTES = 32;

function secret(env: Env, name: string, devValue: string, production: boolean, optional = false): string {
  const value = env[name];
  if (!value) {
    if (production && !optional) throw new Error(`Configuration: ${name} is required when NODE_ENV=production`);
    return production ? "" : devValue;
  }
  // Production refuses keys anyone could guess; each key of a rotation list counts on its own.
  if (production) {
    for (const key of value.split(",").map((k) => k.trim())) {
      if (PUBLIC_SECRETS.has(key)) throw new Error(`Configuration: ${name} is a public development default; generate one (see README)`);
      if (Buffer.byteLength(key, "utf8") < MIN_SECRET_BYTES) {
        throw new Error(`Configuration: ${name} must be at least ${MIN_SECRET_BYTES} bytes when NODE_ENV=production`);
      }
    }
  }
  return value;
}

/** A PEM from the environment, where newlines are often written as `\n`. */
function pem(env: Env, name: string): string | undefined {
  const value = env[name];
  return value ? value.replace(/\\n/g, "\n") : undefined;
}

/** REDIS_CLUSTER_NODES: "host:port,host:port" ("[::1]:7000" for IPv6); a typo must not start a node on the wrong Redis. */
function redisNodes(env: Env): RedisNode[] {
  const raw = env.REDIS_CLUSTER_NODES;
  if (!raw || raw.trim() === "") return [];
  return raw.split(",").map((entry) => {
    const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/.exec(entry.trim());
    const port = match ? Number(match[3]) : 0;
    if (!match || port < 1 || port > 65_535) {
      throw new Error(`Configuration: REDIS_CLUSTER_NODES must be a comma list of host:port, got "${entry.trim()}"`);
    }
    return { host: match[1] ?? match[2], port };
  });
}

/** QUEUE_TOKEN_TTL_S (default 24 h) must outlive the active period, or an admitted buyer's token dies first. */
function queueTokenTtl(env: Env): number {
  const ttl = int(env, "QUEUE_TOKEN_TTL_S", 86_400, 1);
  const active = int(env, "QUEUE_ACTIVE_TTL_S", 600, 1);
  if (ttl <= active) throw new Error(`Configuration: QUEUE_TOKEN_TTL_S (${ttl}) must be longer than QUEUE_ACTIVE_TTL_S (${active})`);
  return ttl;
}

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = str(env, "NODE_ENV", "development");
  const production = nodeEnv === "production";
  return {
    nodeEnv,
    production,
    seedDemo: bool(env, "SEED_DEMO", !production),
    nodeId: env.NODE_ID || undefined,
    namespace: str(env, "NAMESPACE", ""),
    logLevel: str(env, "LOG_LEVEL", "info"),
    port: int(env, "PORT", 3000),
    metricsPort: int(env, "METRICS_PORT", 3030),
    metricsEnabled: bool(env, "METRICS_ENABLED", true),
    databaseUrl: str(env, "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/concert"),
    dbPoolMax: int(env, "DB_POOL_MAX", 10, 1),
    redisUrl: str(env, "REDIS_URL", "redis://127.0.0.1:6379"),
    redisClusterNodes: redisNodes(env),
    redisPrefix: str(env, "REDIS_PREFIX", "concert:"),
    transporter: str(env, "TRANSPORTER", "nats://127.0.0.1:4222"),
    requestTimeoutMs: int(env, "REQUEST_TIMEOUT_MS", 10_000, 1),
    heartbeatIntervalS: int(env, "HEARTBEAT_INTERVAL_S", 1, 1),
    nodeTimeoutMs: int(env, "NODE_TIMEOUT_MS", 3_000, 500),
    kafkaBrokers: str(env, "KAFKA_BROKERS", "127.0.0.1:9092").split(",").map((b) => b.trim()).filter(Boolean),
    kafkaClientId: str(env, "KAFKA_CLIENT_ID", "concert-booking"),
    kafkaTopicPaymentCompleted: str(env, "KAFKA_TOPIC_PAYMENT_COMPLETED", "payment.completed"),
    kafkaTopicPaymentCompletedDlq: str(env, "KAFKA_TOPIC_PAYMENT_COMPLETED_DLQ", "payment.completed.dlq"),
    kafkaTopicPaymentRefunded: str(env, "KAFKA_TOPIC_PAYMENT_REFUNDED", "payment.refunded"),
    kafkaTopicPaymentRefundedDlq: str(env, "KAFKA_TOPIC_PAYMENT_REFUNDED_DLQ", "payment.refunded.dlq"),
    kafkaTopicPartitions: int(env, "KAFKA_TOPIC_PARTITIONS", 3, 1),
    kafkaConsumerGroup: str(env, "KAFKA_CONSUMER_GROUP", "data-platform"),
    dataPlatformUrl: str(env, "DATA_PLATFORM_URL", "http://127.0.0.1:4000"),
    dataPlatformPort: int(env, "DATA_PLATFORM_PORT", 4000),
    dataPlatformTimeoutMs: int(env, "DATA_PLATFORM_TIMEOUT_MS", 3000, 1),
    dataPlatformRetryBaseMs: int(env, "DATA_PLATFORM_RETRY_BASE_MS", 200, 1),
    dataPlatformRetryMaxMs: int(env, "DATA_PLATFORM_RETRY_MAX_MS", 30_000, 1),
    outboxRelayIntervalMs: int(env, "OUTBOX_RELAY_INTERVAL_MS", 2000, 1),
    outboxRelayDelayMs: int(env, "OUTBOX_RELAY_DELAY_MS", 3000, 0),
    outboxRetentionH: int(env, "OUTBOX_RETENTION_H", 72, 1),
    services: str(env, "SERVICES", "all"),
    // With a public key or JWKS, production needs no shared secret (and then refuses HS256 tokens).
    authJwtSecret: secret(env, "AUTH_JWT_SECRET", DEV_JWT_SECRET, production, Boolean(env.AUTH_JWT_PUBLIC_KEY || env.AUTH_JWKS_URL)),
    authJwtIssuer: env.AUTH_JWT_ISSUER || undefined,
    authJwtAudience: env.AUTH_JWT_AUDIENCE || undefined,
    authJwtClockToleranceS: int(env, "AUTH_JWT_CLOCK_TOLERANCE_S", 5),
    authJwtPublicKey: pem(env, "AUTH_JWT_PUBLIC_KEY"),
    authJwksUrl: env.AUTH_JWKS_URL || undefined,
    queueTokenSecret: secret(env, "QUEUE_TOKEN_SECRET", DEV_QUEUE_SECRET, production),
    queueTokenTtlS: queueTokenTtl(env),
    queueAdmitIntervalMs: int(env, "QUEUE_ADMIT_INTERVAL_MS", 1000, 1),
    queueAdmitBatch: int(env, "QUEUE_ADMIT_BATCH", 100, 1),
    queueActiveMax: int(env, "QUEUE_ACTIVE_MAX", 1000, 1),
    queueActiveTtlS: int(env, "QUEUE_ACTIVE_TTL_S", 600, 1),
    queueWaitingIdleS: int(env, "QUEUE_WAITING_IDLE_S", 120, 1),
    queueStreamKeepAliveMs: int(env, "QUEUE_STREAM_KEEPALIVE_MS", 15_000, 100),
    seatCacheTtlS: int(env, "SEAT_CACHE_TTL_S", 10, 1),
    reservationHoldS: int(env, "RESERVATION_HOLD_S", 300, 1),
    reservationSweepS: int(env, "RESERVATION_SWEEP_S", 5, 1),
    reservationMaxSeatsPerUser: int(env, "RESERVATION_MAX_SEATS_PER_USER", 4, 1),
    reservationRedlock: bool(env, "RESERVATION_REDLOCK", true),
    rateLimitPerMin: int(env, "RATE_LIMIT_PER_MIN", 600),
    rateLimitStrictPerMin: int(env, "RATE_LIMIT_STRICT_PER_MIN", 60, 1),
    trustProxy: str(env, "TRUST_PROXY", ""),
    corsOrigins: str(env, "CORS_ORIGINS", "").split(",").map((o) => o.trim()).filter(Boolean),
    bodyLimit: str(env, "BODY_LIMIT", "100kb"),
    httpRequestTimeoutMs: int(env, "HTTP_REQUEST_TIMEOUT_MS", 10_000, 100),
  };
}

let cached: Config | undefined;

export function getConfig(): Config {
  cached ??= loadConfig();
  return cached;
}

/** Forget the cached configuration so the next getConfig() reads process.env again. */
export function resetConfig(): void {
  cached = undefined;
}
