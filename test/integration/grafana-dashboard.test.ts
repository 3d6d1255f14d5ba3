/**
 * Every metric the Grafana dashboard (deploy/grafana/dashboard.json) queries is exported by a
 * running node: a node with metrics on (as in production) serves a sale — queue, holds, a 409, a
 * 402, a payment through the outbox and Kafka to the data platform — and its /metrics is scraped.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import { freePort } from "../../lib/net";
import { startDataPlatformStandIn, type DataPlatformStandIn } from "../../modules/data-platform/standin-server";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { devToken, request } from "../support/http";
import { activeQueueToken } from "../support/queue";
import { allServiceSchemas, createSale } from "../support/pages";
import { deleteTestTopics, waitFor } from "../support/kafka-payments";

const DASHBOARD = join(__dirname, "..", "..", "deploy", "grafana", "dashboard.json");
/** Counters of failures only: registered on every node, exported once something fails. */
const FAILURE_ONLY = new Set(["outbox_publish_failures_total"]);

const PROMQL_WORDS = new Set([
  "sum", "max", "min", "avg", "count", "rate", "irate", "increase", "histogram_quantile", "by", "without", "on", "ignoring",
  "group_left", "group_right", "and", "or", "unless", "offset", "topk", "bottomk", "abs", "clamp_min", "clamp_max",
]);

/** Metric names and the label keys each is selected by, from PromQL expressions. */
function metricsInPromQL(expr: string): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals
    .replace(/\[[^\]]*\]/g, "") // range selectors
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, ""); // grouping labels
  const selector = /([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{[^}]*\})?/g;
  for (const match of text.matchAll(selector)) {
    const [, name, labels] = match;
    const after = text.slice((match.index ?? 0) + match[0].length).trimStart();
    if (PROMQL_WORDS.has(name) || /^\d/.test(name) || after.startsWith("(")) continue;
    const keys = found.get(name) ?? new Set<string>();
    for (const m of (labels ?? "").matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!=|!~|=)/g)) keys.add(m[1]);
    found.set(name, keys);
  }
  return found;
}

/** Prometheus text → metric name → label keys seen on its samples. */
function exported(text: string): Map<string, Set<string>> {
  const samples = new Map<string, Set<string>>();
  for (const line of text.split("\n")) {
    const m = line.match(/^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})? /);
    if (!m) continue;
    const keys = samples.get(m[1]) ?? new Set<string>();
    for (const label of (m[3] ?? "").matchAll(/([A-Za-z_][A-Za-z0-9_]*)="/g)) keys.add(label[1]);
    samples.set(m[1], keys);
  }
  return samples;
}

describe("Grafana dashboard vs. the metrics a node exports (real PostgreSQL, Redis, NATS, Kafka)", () => {
  let node: ServiceBroker;
  let standIn: DataPlatformStandIn;
  let metricsUrl: string;
  const queried = new Map<string, Set<string>>();

  beforeAll(async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8"));
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        for (const [name, keys] of metricsInPromQL(target.expr)) queried.set(name, new Set([...(queried.get(name) ?? []), ...keys]));
      }
    }
    standIn = await startDataPlatformStandIn({ port: 0, databaseUrl: getConfig().databaseUrl });
    const port = await freePort();
    Object.assign(process.env, { DATA_PLATFORM_URL: standIn.url, METRICS_ENABLED: "true", METRICS_PORT: String(port) });
    resetConfig();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    node = await startNode(allServiceSchemas(), {
      nodeID: "dashboard",
      // as in production: Moleculer leaves out process metrics under NODE_ENV=test
      metrics: { enabled: true, collectProcessMetrics: true, reporter: [{ type: "Prometheus", options: { port, path: "/metrics" } }] },
    });
  }, 90_000);

  afterAll(async () => {
    await stopNodes(node);
    await standIn?.close();
    await deleteTestTopics();
  }, 60_000);

  it("finds the metrics in the dashboard's PromQL", () => {
    expect(metricsInPromQL('histogram_quantile(0.99, sum by (le, action) (rate(moleculer_request_time_bucket{type="local"}[5m])))')).toEqual(
      new Map([["moleculer_request_time_bucket", new Set(["type"])]]),
    );
    expect([...queried.keys()].sort()).toEqual(
      expect.arrayContaining(["queue_waiting_length", "queue_active_count", "queue_admissions_total", "outbox_backlog", "delivery_blocked_seconds", "delivery_messages_total", "process_memory_rss", "process_eventloop_delay_seconds"]),
    );
  });

  it("every queried metric, with the labels it is selected by, is exported by the running node", async () => {
    const base = apiUrl(node);
    await waitForApiAliases(node, ["reservations.create", "payments.create", "points.charge"]);
    const sale = await createSale(base, await devToken(base, "dash-admin", ["admin"]), "Metrics Night", [{ name: "A", rows: 1, seatsPerRow: 4, price: 1000 }]);
    const seats = await request("GET", `${base}/schedules/${sale.scheduleId}/seats`, {
      token: await devToken(base, "dash-reader"),
      queueToken: await activeQueueToken(node, "dash-reader", sale.concertId),
    });
    const seatIds = (seats.body as Array<{ id: number }>).map((s) => s.id);
    const buy = async (userId: string, seat: number) => {
      const token = await devToken(base, userId);
      const queueToken = await activeQueueToken(node, userId, sale.concertId);
      const hold = await request("POST", `${base}/reservations`, { token, queueToken, json: { scheduleId: sale.scheduleId, seatIds: [seat] } });
      return { token, queueToken, hold };
    };
    const first = await buy("dash-1", seatIds[0]);
    expect(first.hold.status).toBe(201);
    expect((await buy("dash-2", seatIds[0])).hold.status).toBe(409);
    const pay = () =>
      request("POST", `${base}/payments`, { token: first.token, queueToken: first.queueToken, idempotencyKey: "dash-pay-1", json: { reservationId: first.hold.body.id } });
    expect((await pay()).status).toBe(402);
    expect((await request("POST", `${base}/points/charge`, { token: first.token, json: { amount: 1000 } })).status).toBe(200);
    expect((await pay()).status).toBe(201);

    let text = "";
    let missing: string[] = [];
    await waitFor(
      async () => {
        text = await (await fetch(metricsUrl)).text();
        const samples = exported(text);
        missing = [...queried.keys()].filter((name) => !samples.has(name) && !FAILURE_ONLY.has(name));
        return missing.length === 0;
      },
      45_000,
      "every dashboard metric on /metrics",
      1000,
    ).catch(() => undefined); // the assertion below names what is missing
    expect(missing).toEqual([]);

    const samples = exported(text);
    for (const [name, keys] of queried) {
      if (!samples.has(name)) continue;
      const unknownKeys = [...keys].filter((key) => !samples.get(name)!.has(key));
      expect({ name, unknownKeys }).toEqual({ name, unknownKeys: [] });
    }
    // The failure-only counters exist on the node even before they count anything.
    const registered = new Set(node.metrics.list().map((m: { name: string }) => m.name.replace(/[.-]/g, "_")));
    for (const name of FAILURE_ONLY) expect(registered.has(name)).toBe(true);
    // and the one the dashboard needs for a 409 really carries it
    expect(text).toMatch(/moleculer_request_error_total\{[^}]*action="reservations\.create"[^}]*errorCode="409"/);
  }, 90_000);
});
