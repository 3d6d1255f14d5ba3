/**
 * The one place configuration is read: environment variables with working local defaults.
 * `getConfig()` reads process.env once; tests that need other values call `resetConfig()` after
 * changing process.env (each jest file runs in its own worker).
 */

export interface Config {
  nodeEnv: string;
  production: boolean;
  nodeId?: string;
  namespace: string;
  logLevel: string;
  port: number;
  metricsPort: number;
  metricsEnabled: boolean;
  databaseUrl: string;
  dbPoolMax: number;
  redisUrl: string;
  /** Prefix of every Redis key the system writes (queue, cache, locks, rankings, rate limit). */
  redisPrefix: string;
  transporter: string;
  requestTimeoutMs: number;
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
  dataPlatformMaxAttempts: number;
  /** Exponential backoff of data-platform retries: first delay and cap (ms), jittered. */
  dataPlatformRetryBaseMs: number;
  dataPlatformRetryMaxMs: number;
  outboxRelayIntervalMs: number;
  outboxRelayDelayMs: number;
  /** Published outbox rows older than this are purged (hours). */
  outboxRetentionH: number;
  services: string;
  authJwtSecret: string;
  queueTokenSecret: string;
  queueAdmitIntervalMs: number;
  queueAdmitBatch: number;
  queueActiveMax: number;
  queueActiveTtlS: number;
  seatCacheTtlS: number;
  reservationHoldS: number;
  reservationSweepS: number;
  /** Switch for the Redis lock in front of seat holds; PostgreSQL alone must still be correct. */
  reservationRedlock: boolean;
  rateLimitPerMin: number;
  bodyLimit: string;
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

function secret(env: Env, name: string, devValue: string, production: boolean): string {
  const value = env[name];
  if (value) return value;
  if (production) throw new Error(`Configuration: ${name} is required when NODE_ENV=production`);
  return devValue;
}

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = str(env, "NODE_ENV", "development");
  const production = nodeEnv === "production";
  return {
    nodeEnv,
    production,
    nodeId: env.NODE_ID || undefined,
    namespace: str(env, "NAMESPACE", ""),
    logLevel: str(env, "LOG_LEVEL", "info"),
    port: int(env, "PORT", 3000),
    metricsPort: int(env, "METRICS_PORT", 3030),
    metricsEnabled: bool(env, "METRICS_ENABLED", true),
    databaseUrl: str(env, "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/concert"),
    dbPoolMax: int(env, "DB_POOL_MAX", 10, 1),
    redisUrl: str(env, "REDIS_URL", "redis://127.0.0.1:6379"),
    redisPrefix: str(env, "REDIS_PREFIX", "concert:"),
    transporter: str(env, "TRANSPORTER", "nats://127.0.0.1:4222"),
    requestTimeoutMs: int(env, "REQUEST_TIMEOUT_MS", 10_000, 1),
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
    dataPlatformMaxAttempts: int(env, "DATA_PLATFORM_MAX_ATTEMPTS", 15, 1),
    dataPlatformRetryBaseMs: int(env, "DATA_PLATFORM_RETRY_BASE_MS", 200, 1),
    dataPlatformRetryMaxMs: int(env, "DATA_PLATFORM_RETRY_MAX_MS", 30_000, 1),
    outboxRelayIntervalMs: int(env, "OUTBOX_RELAY_INTERVAL_MS", 2000, 1),
    outboxRelayDelayMs: int(env, "OUTBOX_RELAY_DELAY_MS", 3000, 0),
    outboxRetentionH: int(env, "OUTBOX_RETENTION_H", 72, 1),
    services: str(env, "SERVICES", "all"),
    authJwtSecret: secret(env, "AUTH_JWT_SECRET", DEV_JWT_SECRET, production),
    queueTokenSecret: secret(env, "QUEUE_TOKEN_SECRET", DEV_QUEUE_SECRET, production),
    queueAdmitIntervalMs: int(env, "QUEUE_ADMIT_INTERVAL_MS", 1000, 1),
    queueAdmitBatch: int(env, "QUEUE_ADMIT_BATCH", 100, 1),
    queueActiveMax: int(env, "QUEUE_ACTIVE_MAX", 1000, 1),
    queueActiveTtlS: int(env, "QUEUE_ACTIVE_TTL_S", 600, 1),
    seatCacheTtlS: int(env, "SEAT_CACHE_TTL_S", 10, 1),
    reservationHoldS: int(env, "RESERVATION_HOLD_S", 300, 1),
    reservationSweepS: int(env, "RESERVATION_SWEEP_S", 5, 1),
    reservationRedlock: bool(env, "RESERVATION_REDLOCK", true),
    rateLimitPerMin: int(env, "RATE_LIMIT_PER_MIN", 600),
    bodyLimit: str(env, "BODY_LIMIT", "100kb"),
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
