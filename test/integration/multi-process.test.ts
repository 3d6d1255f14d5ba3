/**
 * Run modes: two separate OS processes started the way production starts them (moleculer-runner
 * with SERVICES=...), one running only the gateway and one only the catalog, serve the API together
 * over the real NATS transporter.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { getConfig } from "../../lib/config";
import { initOrm, migrate } from "../../lib/db/orm";
import { createConcert } from "../../modules/catalog/catalog-writes";
import { request } from "../support/http";
import { freePort } from "../../lib/net";

const root = path.resolve(__dirname, "../..");


function startProcess(services: string, nodeId: string, port: number): ChildProcess {
  const child = spawn(
    process.execPath,
    [path.join(root, "node_modules/moleculer/bin/moleculer-runner.js"), "--config", "dist/moleculer.config.js"],
    {
      cwd: root,
      env: { ...process.env, SERVICES: services, SERVICEDIR: "dist/services", NODE_ID: nodeId, PORT: String(port), LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  child.on("exit", (code) => {
    if (code) process.stderr.write(`[${nodeId}] exited with ${code}\n${output}\n`);
  });
  return child;
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting for the processes to serve");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("two processes, one NATS", () => {
  const children: ChildProcess[] = [];
  let concertId: number;

  beforeAll(async () => {
    const orm = await initOrm(getConfig().databaseUrl, 1);
    await migrate(orm, getConfig().databaseUrl);
    concertId = await createConcert(orm.em.fork(), "Two Process Concert", "Split Hall");
    await orm.close(true);
  });

  afterAll(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGTERM");
          }),
      ),
    );
  });

  it("serves GET /api/concerts from a gateway-only process and a catalog-only process", async () => {
    const port = await freePort();
    children.push(startProcess("api,auth", "gateway-node", port));
    children.push(startProcess("catalog", "worker-node", await freePort()));
    const base = `http://127.0.0.1:${port}/api`;

    const concerts = await waitFor(async () => {
      const response = await request("GET", `${base}/concerts`);
      return response.status === 200 ? (response.body as Array<{ id: number; title: string }>) : undefined;
    }, 45_000);
    expect(concerts).toContainEqual(expect.objectContaining({ id: concertId, title: "Two Process Concert", venue: "Split Hall" }));

    // The gateway process has no catalog of its own: stopping the worker makes the route unavailable.
    const worker = children[1];
    await new Promise<void>((resolve) => {
      worker.once("exit", () => resolve());
      worker.kill("SIGTERM");
    });
    const unavailable = await waitFor(async () => {
      const response = await request("GET", `${base}/concerts`);
      return response.status !== 200 ? response : undefined;
    }, 20_000);
    expect([404, 503]).toContain(unavailable.status);
  });
});
