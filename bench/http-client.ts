/**
 * A small keep-alive JSON client for the benchmark's setup steps, invariant checks and the journey
 * driver (node:http, so it measures the server and not a heavy client).
 */
import http from "node:http";

export interface JsonResponse<T = any> {
  status: number;
  body: T;
  /** Milliseconds from sending the request to the end of the response body. */
  ms: number;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: unknown;
  timeoutMs?: number;
}

export class JsonClient {
  private readonly agent: http.Agent;

  constructor(
    readonly baseUrl: string,
    maxSockets = 128,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<JsonResponse<T>> {
    const url = new URL(path, this.baseUrl);
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers: Record<string, string | number> = { accept: "application/json", ...options.headers };
    if (payload) {
      headers["content-type"] = "application/json";
      headers["content-length"] = payload.length;
    }
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method, headers, agent: this.agent, timeout: options.timeoutMs ?? 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: any = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started });
        });
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`timeout ${method} ${url.pathname}`)));
      req.on("error", reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Runs `task` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** "<status> <type>" of an error answer (moleculer-web's body has a stable `type`). */
export function errorKey(status: number, body: unknown): string {
  let type: unknown;
  if (typeof body === "string") {
    try {
      type = (JSON.parse(body) as { type?: unknown }).type;
    } catch {
      type = undefined;
    }
  } else if (body && typeof body === "object") {
    type = (body as { type?: unknown }).type;
  }
  return typeof type === "string" && type ? `${status} ${type}` : `${status}`;
}
