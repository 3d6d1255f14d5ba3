/** The data-platform stand-in (scripts/data-platform-standin.ts) as a child process the suite can stop and start. */
import path from "node:path";
import { Child, portOpen, projectRoot, waitFor } from "./procs";

export interface AppliedRecord {
  eventId: string;
  payload: { paymentId?: number; [key: string]: unknown };
  appliedAt: string;
}

export class StandIn {
  private child?: Child;

  constructor(
    readonly port: number,
    private readonly databaseUrl: string,
    private readonly logDir: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const root = projectRoot();
    const env = { ...process.env, DATA_PLATFORM_PORT: String(this.port), DATABASE_URL: this.databaseUrl, LOG_LEVEL: "warn" };
    const child = new Child("standin", process.execPath, [path.join(root, "dist/scripts/data-platform-standin.js")], path.join(this.logDir, "standin.log"), { cwd: root, env });
    this.child = child;
    await waitFor("the data-platform stand-in", async () => {
      if (!child.alive) throw new Error(`stand-in exited: ${child.tail()}`);
      const res = await fetch(`${this.url}/health`).catch(() => undefined);
      return res?.status === 200;
    }, 30_000);
  }

  /** Down = connection refused, until start() again on the same port. */
  async stop(): Promise<void> {
    await this.child?.stop();
    await waitFor("the stand-in port to close", async () => !(await portOpen(this.port)), 10_000);
  }

  async setFaults(faults: { failRate?: number; delayMs?: number }): Promise<void> {
    const res = await fetch(`${this.url}/_faults`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(faults) });
    if (res.status !== 200) throw new Error(`stand-in /_faults answered ${res.status}`);
  }

  /** What the stand-in applied (its store keeps one record per eventId). */
  async records(): Promise<AppliedRecord[]> {
    const res = await fetch(`${this.url}/reservations`, { signal: AbortSignal.timeout(30_000) });
    if (res.status !== 200) throw new Error(`stand-in GET /reservations answered ${res.status}`);
    return (await res.json()) as AppliedRecord[];
  }
}
