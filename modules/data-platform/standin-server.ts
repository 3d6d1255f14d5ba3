import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { NO_FAULTS, parseFaults, pickFault, UUID_PATTERN, type Faults } from "./standin-faults";
import { StandInStore, type RecordKind } from "./standin-store";

/**
 * A small stand-in for the external data platform (SPEC §4), for local runs and tests:
 *   POST /reservations  apply a payment.completed value once per eventId: 201 applied, 200 repeat
 *                       (nothing changes), 400 not a JSON object with a uuid eventId,
 *                       422/503 when told to by /_faults
 *   GET  /reservations  the applied records [{eventId, payload, appliedAt}], oldest first
 *   POST /refunds       the same for payment.refunded values (SPEC §7); GET /refunds lists them
 *   POST /_faults       set injected faults (see standin-faults.ts); GET /_faults reads them
 *   GET  /_stats        request counters since start: {requests, applied, duplicates, failed, rejected, invalid}
 *   GET  /health        200 {status:"ok"}
 */
export interface StandInOptions {
  port: number;
  host?: string;
  databaseUrl: string;
}

export interface StandInStats {
  /** Every POST /reservations and /refunds, duplicates and failures included. */
  requests: number;
  applied: number;
  duplicates: number;
  failed: number;
  rejected: number;
  invalid: number;
}

export interface DataPlatformStandIn {
  url: string;
  close(): Promise<void>;
}

const BODY_LIMIT = 1024 * 1024;

class BadRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) throw new BadRequest(413, "body too large");
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new BadRequest(400, "body is not valid JSON");
  }
}

export async function startDataPlatformStandIn(options: StandInOptions): Promise<DataPlatformStandIn> {
  const store = await StandInStore.open(options.databaseUrl);
  const stats: StandInStats = { requests: 0, applied: 0, duplicates: 0, failed: 0, rejected: 0, invalid: 0 };
  let faults: Faults = NO_FAULTS;
  const closing = new AbortController();

  async function postRecord(req: IncomingMessage, res: ServerResponse, kind: RecordKind): Promise<void> {
    stats.requests += 1;
    let body: unknown;
    try {
      body = await readJson(req);
    } catch (err) {
      stats.invalid += 1;
      throw err;
    }
    const current = faults;
    // Slow, then apply even when the caller gave up waiting: like a real server whose answer was lost.
    if (current.delayMs > 0) await delay(current.delayMs, undefined, { signal: closing.signal });
    const eventId = (body as { eventId?: unknown } | null)?.eventId;
    if (typeof body !== "object" || body === null || typeof eventId !== "string" || !UUID_PATTERN.test(eventId)) {
      stats.invalid += 1;
      throw new BadRequest(400, "expected a JSON object with a uuid eventId");
    }
    const fault = pickFault(current, eventId);
    if (fault === "reject") {
      stats.rejected += 1;
      return send(res, 422, { error: "rejected (injected fault)", eventId });
    }
    if (fault === "fail") {
      stats.failed += 1;
      return send(res, 503, { error: "unavailable (injected fault)", eventId });
    }
    const applied = await store.apply(eventId, body, kind);
    if (applied) stats.applied += 1;
    else stats.duplicates += 1;
    send(res, applied ? 201 : 200, { eventId, applied });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://stand-in").pathname;
    const key = `${req.method} ${path}`;
    if (key === "POST /reservations") return postRecord(req, res, "reservation");
    if (key === "GET /reservations") return send(res, 200, await store.list("reservation"));
    if (key === "POST /refunds") return postRecord(req, res, "refund");
    if (key === "GET /refunds") return send(res, 200, await store.list("refund"));
    if (key === "GET /_faults") return send(res, 200, faults);
    if (key === "POST /_faults") {
      try {
        faults = parseFaults(await readJson(req));
      } catch (err) {
        if (err instanceof RangeError) throw new BadRequest(400, err.message);
        throw err;
      }
      return send(res, 200, faults);
    }
    if (key === "GET /_stats") return send(res, 200, stats);
    if (key === "GET /health") return send(res, 200, { status: "ok" });
    send(res, 404, { error: `no route ${key}` });
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (res.headersSent) return;
      if (err instanceof BadRequest) send(res, err.status, { error: err.message });
      else if (closing.signal.aborted) send(res, 503, { error: "stand-in is shutting down" });
      else send(res, 500, { error: (err as Error).message });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      closing.abort();
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
      await store.close();
    },
  };
}
