/**
 * Three suites: unit (pure logic, no servers), integration (real PostgreSQL, Redis, NATS, Kafka) and
 * chaos (faults on private servers, processes from dist/; runs last, see test/support/chaos-last-sequencer.js).
 */
const transform = { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] };

module.exports = {
  testTimeout: 60_000,
  // Files run one at a time: kafka-outage.test.ts stops and restarts the shared Kafka broker.
  maxWorkers: 1,
  testSequencer: "<rootDir>/test/support/chaos-last-sequencer.js",
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
    {
      displayName: "chaos",
      testEnvironment: "node",
      transform,
      testMatch: ["<rootDir>/test/chaos/**/*.test.ts"],
    },
  ],
};
