import { loadConfig } from "../../lib/config";

// Production secrets must be 32+ bytes and not a published default.
const STRONG_A = "a".repeat(32);
const STRONG_B = "b".repeat(32);

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

  it("seeds demo data in development by default, in production only with SEED_DEMO=1", () => {
    const secrets = { AUTH_JWT_SECRET: STRONG_A, QUEUE_TOKEN_SECRET: STRONG_B };
    expect(loadConfig({}).seedDemo).toBe(true);
    expect(loadConfig({ SEED_DEMO: "0" }).seedDemo).toBe(false);
    expect(loadConfig({ NODE_ENV: "production", ...secrets }).seedDemo).toBe(false);
    expect(loadConfig({ NODE_ENV: "production", SEED_DEMO: "1", ...secrets }).seedDemo).toBe(true);
    expect(() => loadConfig({ SEED_DEMO: "maybe" })).toThrow(/SEED_DEMO/);
  });

  it("requires the signing secrets in production and uses the given ones", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrow("AUTH_JWT_SECRET");
    expect(() => loadConfig({ NODE_ENV: "production", AUTH_JWT_SECRET: STRONG_A })).toThrow("QUEUE_TOKEN_SECRET");
    const config = loadConfig({ NODE_ENV: "production", AUTH_JWT_SECRET: STRONG_A, QUEUE_TOKEN_SECRET: STRONG_B });
    expect(config).toMatchObject({ production: true, authJwtSecret: STRONG_A, queueTokenSecret: STRONG_B });
  });

  it.each([
    ["AUTH_JWT_SECRET", "short-secret", /at least 32 bytes/],
    ["AUTH_JWT_SECRET", "dev-only-auth-secret-change-me", /public development default/],
    ["AUTH_JWT_SECRET", "change-me-compose-auth-secret", /public development default/],
    ["QUEUE_TOKEN_SECRET", "dev-only-queue-secret-change-me", /public development default/],
    ["QUEUE_TOKEN_SECRET", `${"n".repeat(32)},short-old-key`, /at least 32 bytes/],
  ])("refuses a production start with %s=%s", (name, value, message) => {
    const env = { NODE_ENV: "production", AUTH_JWT_SECRET: STRONG_A, QUEUE_TOKEN_SECRET: STRONG_B, [name]: value };
    expect(() => loadConfig(env)).toThrow(name);
    expect(() => loadConfig(env)).toThrow(message);
    // The same values are fine outside production (tests, development).
    expect(loadConfig({ ...env, NODE_ENV: "test" })).toMatchObject({ production: false });
  });

  it("needs no shared JWT secret in production when an identity provider's key is configured", () => {
    const config = loadConfig({ NODE_ENV: "production", QUEUE_TOKEN_SECRET: STRONG_B, AUTH_JWKS_URL: "https://idp.example/jwks" });
    expect(config).toMatchObject({ authJwtSecret: "", authJwksUrl: "https://idp.example/jwks" });
    const pem = loadConfig({ AUTH_JWT_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----" }).authJwtPublicKey;
    expect(pem).toBe("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----");
  });

  it("reads the security settings with safe defaults", () => {
    expect(loadConfig({})).toMatchObject({ trustProxy: "", corsOrigins: [], rateLimitStrictPerMin: 60, authJwtClockToleranceS: 5, queueTokenTtlS: 86_400 });
    expect(loadConfig({ CORS_ORIGINS: "https://a.example, https://b.example" }).corsOrigins).toEqual(["https://a.example", "https://b.example"]);
    expect(() => loadConfig({ QUEUE_TOKEN_TTL_S: "600" })).toThrow(/QUEUE_TOKEN_TTL_S/);
  });
});
