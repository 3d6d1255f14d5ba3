/** Two suites: unit (pure logic, no servers) and integration (real PostgreSQL, Redis, NATS, Kafka). */
const transform = { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] };

module.exports = {
  testTimeout: 60_000,
  // Files run one at a time: kafka-outage.test.ts stops and restarts the shared Kafka broker.
  maxWorkers: 1,
  projects: [
    {
      displayName: "unit",
      testEnvironment: "node",
      transform,
      testMatch: ["<rootDir>/test/unit/**/*.test.ts"],
    },
    {
      displayName: "integration",
      testEnvironment: "node",
      transform,
      testMatch: ["<rootDir>/test/integration/**/*.test.ts"],
      setupFiles: ["<rootDir>/test/support/isolated-env.ts"],
      globalSetup: "<rootDir>/test/support/global-setup.ts",
      globalTeardown: "<rootDir>/test/support/global-teardown.ts",
    },
  ],
};
