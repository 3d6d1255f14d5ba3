/**
 * The buyers' HTTP client: one request = one ResponseRecord (status, type, time), with the checks of
 * SPEC §11 on each error answer (Retry-After on 503, no driver text in the body).
 */
import type { ResponseRecord } from "./types";

export interface Answer {
  status: number;
  body: any;
  type?: string;
  retryAfter?: string;
}

/** Text that must never reach a client: driver and library errors, codes, paths, stacks, SQL. */
const LEAK = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EAI_AGAIN|ioredis|MaxRetriesPerRequest|Connection is closed|Connection terminated|terminating connection|\b57P0\d\b|\b08006\b|node_modules|\.[jt]s:\d+|\n\s+at |KafkaJS|knex|MikroORM|\bpg\b|sql|relation "|duplicate key|nats:|NatsError|Redlock|ExecutionError/i;

/** The body of an error answer without `data.dependency` (which may name "redis" on purpose). */
function leakIn(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  let scrubbed: unknown = body;
  if (typeof body === "object" && (body as { data?: unknown }).data && typeof (body as { data: unknown }).data === "object") {
    const data = { ...((body as { data: Record<string, unknown> }).data) };
    delete data.dependency;
    scrubbed = { ...(body as object), data };
  }
  const text = typeof scrubbed === "string" ? scrubbed : JSON.stringify(scrubbed);
  const match = LEAK.exec(text);
  return match ? text.slice(Math.max(0, match.index - 60), match.index + 80) : undefined;
}

export class RecordingClient {
  readonly records: ResponseRecord[] = [];

  constructor(
    private readonly apiUrl: () => string,
    private readonly epoch: number,
    private readonly timeoutMs: number,
  ) {}

  async request(step: string, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
    const started = Date.now();
    const record: ResponseRecord = { t: started - this.epoch, step, method, status: 0, ms: 0 };
    try {
      const res = await fetch(`${this.apiUrl()}${path}`, {
        method,
        headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await res.text();
      let parsed: any = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
      }
      record.status = res.status;
      const retryAfter = res.headers.get("retry-after") ?? undefined;
      if (retryAfter !== undefined) record.retryAfter = retryAfter;
      if (res.status >= 400) {
        if (parsed && typeof parsed === "object" && typeof parsed.type === "string") record.type = parsed.type;
        if (res.status === 500) record.body500 = text.slice(0, 300);
        const leak = leakIn(parsed);
        if (leak) record.leak = leak;
      }
      return { status: res.status, body: parsed, type: record.type, retryAfter };
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      record.type = (err as Error).name === "TimeoutError" ? "CLIENT_TIMEOUT" : (cause?.code ?? "NETWORK_ERROR");
      return { status: 0, body: undefined, type: record.type };
    } finally {
      record.ms = Date.now() - started;
      this.records.push(record);
    }
  }
}

/** An answer a real client would retry after a pause: no answer, 5xx, 429, or a route that vanished. */
export function retryable(answer: Answer): boolean {
  return answer.status === 0 || answer.status >= 500 || answer.status === 429 || (answer.status === 404 && (answer.type === "SERVICE_NOT_FOUND" || answer.type === "NOT_FOUND"));
}

/** A failure in the sense of SPEC §11 (the request did not get its answer). */
export function isFailure(record: ResponseRecord): boolean {
  return record.status === 0 || record.status >= 500 || (record.status === 404 && (record.type === "SERVICE_NOT_FOUND" || record.type === "NOT_FOUND"));
}
