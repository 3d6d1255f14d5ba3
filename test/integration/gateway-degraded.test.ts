/**
 * Health really asks each component: with Kafka pointed at a closed port the gateway answers 503
 * "degraded" and names Kafka, while the rest stays up. Metrics are served for Prometheus.
 */
import type { ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import { ensureDatabase } from "../../lib/db/orm";
import type { AnyServiceSchema } from "../support/nodes";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { request } from "../support/http";
import { freePort } from "../../lib/net";


describe("degraded health and metrics", () => {
  let node: ServiceBroker;
  let metricsPort: number;

  beforeAll(async () => {
    metricsPort = await freePort();
    const closedPort = await freePort();
    Object.assign(process.env, {
      KAFKA_BROKERS: `127.0.0.1:${closedPort}`,
      METRICS_ENABLED: "true",
      METRICS_PORT: String(metricsPort),
    });
    resetConfig();
    await ensureDatabase(getConfig().databaseUrl); // this node runs no service that would create it
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ApiService: AnyServiceSchema = require("../../services/api.service").default;
    node = await startNode([ApiService], { nodeID: "degraded-gateway" });
    await waitForApiAliases(node, ["api.health"]);
  });
  afterAll(() => stopNodes(node));

  it("answers 503 with status degraded and kafka down", async () => {
    const response = await request("GET", `${apiUrl(node)}/health`);
    expect(response.status).toBe(503);
    // toMatchObject: SPEC §11 added `nodes` and `services` (this node runs none of the services).
    expect(response.body).toMatchObject({
      status: "degraded",
      checks: { postgres: "up", redis: "up", nats: "up", kafka: "down" },
    });
  });

  it("serves Prometheus metrics, including the gateway's own requests", async () => {
    await request("GET", `${apiUrl(node)}/health`);
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/^# TYPE moleculer_request_total counter$/m);
    expect(text).toMatch(/moleculer_request_total\{[^}]*action="api\.health"[^}]*\} [1-9]/);
  });
});
