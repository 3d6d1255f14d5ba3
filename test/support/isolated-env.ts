/**
 * Runs before every integration test file (jest setupFiles): gives the file its own database,
 * Redis key prefix, Moleculer namespace and Kafka topics/group, so test files can run in parallel
 * and on a machine where the system itself is up.
 */
import { randomBytes } from "node:crypto";
import { resetConfig } from "../../lib/config";

/** `<jest run>_<test file>`: the run part lets global-teardown drop only this run's data. */
export const TEST_RUN_ID = `${process.env.TEST_RUN_PREFIX ?? "norun"}_${randomBytes(4).toString("hex")}`;

const baseDatabaseUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/concert";
const databaseUrl = new URL(baseDatabaseUrl);
databaseUrl.pathname = `/concert_test_${TEST_RUN_ID}`;

Object.assign(process.env, {
  NODE_ENV: "test",
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
  DATABASE_URL: databaseUrl.toString(),
  DB_POOL_MAX: "10",
  REDIS_PREFIX: `test:${TEST_RUN_ID}:`,
  NAMESPACE: `test-${TEST_RUN_ID}`,
  METRICS_ENABLED: "false",
  PORT: "0",
  DATA_PLATFORM_PORT: "0",
  KAFKA_TOPIC_PAYMENT_COMPLETED: `test.${TEST_RUN_ID}.payment.completed`,
  KAFKA_TOPIC_PAYMENT_COMPLETED_DLQ: `test.${TEST_RUN_ID}.payment.completed.dlq`,
  KAFKA_TOPIC_PAYMENT_REFUNDED: `test.${TEST_RUN_ID}.payment.refunded`,
  KAFKA_TOPIC_PAYMENT_REFUNDED_DLQ: `test.${TEST_RUN_ID}.payment.refunded.dlq`,
  KAFKA_CONSUMER_GROUP: `test-${TEST_RUN_ID}-data-platform`,
  KAFKA_CLIENT_ID: `test-${TEST_RUN_ID}`,
});
resetConfig();
