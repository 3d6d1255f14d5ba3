/**
 * PostgreSQL connections cut under load (SPEC §11): the backends of this test's own database are
 * terminated again and again (pg_terminate_backend → 57P01 on the worker's pooled connections)
 * while clients read concerts and wallets. Every answer is a success or a 503 naming postgres,
 * never a 500 and never the driver's words; once the cutting stops, reads succeed again.
 */
import { Client } from "pg";
import type { ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import { apiUrl, startNode, stopNodes, waitForApiAliases, type AnyServiceSchema } from "../support/nodes";
import { devToken, request, type JsonResponse } from "../support/http";

const DRIVER_TEXT = ["57P01", "terminating connection", "Connection terminated", "ECONNREFUSED", "at ", "/work/", "node_modules", "knex", "pg-pool"];

describe("PostgreSQL backends terminated mid-load", () => {
  let gateway: ServiceBroker;
  let worker: ServiceBroker;
  let base: string;
  let bearer: string;
  let admin: Client;

  beforeAll(async () => {
    process.env.RATE_LIMIT_PER_MIN = "0";
    resetConfig();
    const load = (name: string): AnyServiceSchema => require(`../../services/${name}.service`).default; // eslint-disable-line @typescript-eslint/no-require-imports
    gateway = await startNode([load("api"), load("auth")], { nodeID: "pg-gateway" });
    worker = await startNode([load("catalog"), load("points")], { nodeID: "pg-worker" });
    base = apiUrl(gateway);
    await waitForApiAliases(gateway, ["catalog.listConcerts", "points.balance", "auth.devToken"]);
    bearer = await devToken(base, "pg_user");
    admin = new Client({ connectionString: getConfig().databaseUrl });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await stopNodes(gateway, worker);
  });

  /** Terminates every other session of this test's database; how many it ended. */
  async function terminateOthers(): Promise<number> {
    const result = await admin.query<{ ended: string }>(
      "select count(*) filter (where pg_terminate_backend(pid)) as ended from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()",
    );
    return Number(result.rows[0].ended);
  }

  it("answers every request with a success or a 503 postgres, and recovers", async () => {
    const reads = [() => request("GET", `${base}/concerts`), () => request("GET", `${base}/points`, { token: bearer })];
    expect((await reads[0]()).status).toBe(200);
    expect((await reads[1]()).status).toBe(200);

    const answers: JsonResponse[] = [];
    let cutting = true;
    const clients = Array.from({ length: 6 }, async (_, i) => {
      while (cutting) answers.push(await reads[i % reads.length]());
    });
    let ended = 0;
    for (let round = 0; round < 12; round++) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      ended += await terminateOthers();
    }
    cutting = false;
    await Promise.all(clients);

    expect(ended).toBeGreaterThan(0); // the pool really lost connections
    expect(answers.length).toBeGreaterThan(20);
    for (const response of answers) {
      expect([200, 503]).toContain(response.status);
      if (response.status === 503) {
        expect(response.body).toMatchObject({ type: "SERVICE_UNAVAILABLE", data: { dependency: "postgres" } });
        expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
      }
      const text = JSON.stringify(response.body);
      for (const needle of DRIVER_TEXT) expect(text).not.toContain(needle);
    }
    const statuses = answers.reduce<Record<number, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {});
    console.log(`answers while cutting PostgreSQL connections (${ended} ended): ${JSON.stringify(statuses)}`);

    // Recovered without restarting a node.
    const deadline = Date.now() + 10_000;
    let last = await reads[1]();
    while (last.status !== 200 && Date.now() < deadline) last = await reads[1]();
    expect(last.status).toBe(200);
    expect((await reads[0]()).status).toBe(200);
  });
});
