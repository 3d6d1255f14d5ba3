import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { ServiceBroker } from "moleculer";
import { publicDir } from "../../lib/web-assets";
import { getConfig, resetConfig } from "../../lib/config";
import { startDataPlatformStandIn, type DataPlatformStandIn } from "../../modules/data-platform/standin-server";
import type { AnyServiceSchema } from "./nodes";
import { devToken, request } from "./http";
import { activeQueueToken } from "./queue";

const ROOT = join(__dirname, "..", "..");

/** The pages are built by `npm run build` (web/build.mjs); build them here when a test runs alone from a clean tree. */
export function ensurePagesBuilt(): string {
  const dir = publicDir();
  if (!existsSync(join(dir, "buyer.js")) || !existsSync(join(dir, "docs", "swagger-ui-bundle.js"))) {
    execFileSync(process.execPath, [join(ROOT, "web", "build.mjs")], { cwd: ROOT, stdio: "pipe" });
  }
  return dir;
}

/** Every service in services/ (the page tests drive the whole system, as `npm start` runs it). */
export function allServiceSchemas(): AnyServiceSchema[] {
  const dir = join(ROOT, "services");
  return readdirSync(dir)
    .filter((file) => file.endsWith(".service.ts"))
    .map((file) => require(join(dir, file)).default as AnyServiceSchema); // eslint-disable-line @typescript-eslint/no-require-imports
}

export interface Sale {
  concertId: number;
  scheduleId: number;
  title: string;
}

/** A concert on sale now with one sectioned performance, made through the operator API. */
export async function createSale(base: string, admin: string, title: string, sections: Array<{ name: string; rows: number; seatsPerRow: number; price: number }>): Promise<Sale> {
  const concert = await request("POST", `${base}/admin/concerts`, { token: admin, json: { title, venue: "Olympic Hall" } });
  if (concert.status !== 201) throw new Error(`concert: ${concert.status} ${JSON.stringify(concert.body)}`);
  const startsAt = new Date(Date.now() + 30 * 86_400_000).toISOString();
  const schedule = await request("POST", `${base}/admin/concerts/${concert.body.id}/schedules`, { token: admin, json: { startsAt, sections } });
  if (schedule.status !== 201) throw new Error(`schedule: ${schedule.status} ${JSON.stringify(schedule.body)}`);
  return { concertId: concert.body.id, scheduleId: schedule.body.id, title };
}

/** Seat statuses by id, read through the API as a buyer with an ACTIVE token would (fresh user). */
export async function seatStatuses(broker: ServiceBroker, base: string, sale: Sale, userId: string): Promise<Map<number, string>> {
  const token = await devToken(base, userId);
  const queueToken = await activeQueueToken(broker, userId, sale.concertId);
  const seats = await request<Array<{ id: number; status: string }>>("GET", `${base}/schedules/${sale.scheduleId}/seats`, { token, queueToken });
  if (seats.status !== 200) throw new Error(`seats: ${seats.status} ${JSON.stringify(seats.body)}`);
  return new Map(seats.body.map((s) => [s.id, s.status]));
}

/** The data-platform stand-in on a free port, for the node's consumer to deliver payments to (quiet logs, real flow). */
export async function startStandIn(): Promise<DataPlatformStandIn> {
  const standIn = await startDataPlatformStandIn({ port: 0, databaseUrl: getConfig().databaseUrl });
  process.env.DATA_PLATFORM_URL = standIn.url;
  resetConfig();
  return standIn;
}
