import { loadConfig } from "../../lib/config";

describe("loadConfig", () => {
  it("gives SPEC's local defaults for an empty environment", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      metricsPort: 3030,
      databaseUrl: "postgres://postgres@127.0.0.1:5432/concert",
      redisUrl: "redis://127.0.0.1:6379",
      transporter: "nats://127.0.0.1:4222",
      kafkaBrokers: ["127.0.0.1:9092"],
      dataPlatformUrl: "http://127.0.0.1:4000",
      dataPlatformPort: 4000,
      queueAdmitIntervalMs: 1000,
      queueAdmitBatch: 100,
      queueActiveMax: 1000,
      queueActiveTtlS: 600,
      seatCacheTtlS: 10,
      reservationHoldS: 300,
      reservationSweepS: 5,
      rateLimitPerMin: 600,
      reservationRedlock: true,
      production: false,
    });
  });

  it("reads values and lists from the environment", () => {
    const config = loadConfig({ PORT: "8080", KAFKA_BROKERS: "a:9092, b:9092", RESERVATION_REDLOCK: "false" });
    expect(config.port).toBe(8080);
    expect(config.kafkaBrokers).toEqual(["a:9092", "b:9092"]);
    expect(config.reservationRedlock).toBe(false);
  });

  it.each([
    ["PORT", "abc"],
    ["QUEUE_ADMIT_BATCH", "0"],
    ["RESERVATION_HOLD_S", "1.5"],
    ["RATE_LIMIT_PER_MIN", "-1"],
    ["RESERVATION_REDLOCK", "maybe"],
  ])("refuses %s=%s with a message naming the variable", (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });

  it("requires the signing secrets in production and uses the given ones", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrow("AUTH_JWT_SECRET");
    expect(() => loadConfig({ NODE_ENV: "production", AUTH_JWT_SECRET: "a" })).toThrow("QUEUE_TOKEN_SECRET");
    const config = loadConfig({ NODE_ENV: "production", AUTH_JWT_SECRET: "a", QUEUE_TOKEN_SECRET: "b" });
    expect(config).toMatchObject({ production: true, authJwtSecret: "a", queueTokenSecret: "b" });
  });
});
