/**
 * One load run with autocannon: fixed connections, for a duration or a fixed number of requests.
 * Latencies of every answer (errors included: a 409 in a seat race is a real answer) come from
 * autocannon's `response` events, so p95 is exact; non-2xx answers are counted by status and type.
 */
import autocannon from "autocannon";
import { errorKey } from "./http-client";
import { summarizeLatencies, type RunMetrics } from "./stats";

export type LoadRequest = autocannon.Request;

export interface LoadOptions {
  url: string;
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  durationS?: number;
  /** Total requests (split evenly over the connections). */
  amount?: number;
  requests: LoadRequest[];
  timeoutS?: number;
}

export async function runLoad(options: LoadOptions): Promise<RunMetrics> {
  const errors: Record<string, number> = {};
  const latencies: number[] = [];
  const count = (key: string) => (errors[key] = (errors[key] ?? 0) + 1);
  const requests = options.requests.map((request) => ({
    ...request,
    onResponse(status: number, body: string, context: autocannon.Context, headers: Record<string, string>) {
      if (status >= 400) count(errorKey(status, body));
      request.onResponse?.(status, body, context, headers);
    },
  }));
  const instance = autocannon({
    url: options.url,
    connections: options.connections,
    // autocannon validates `duration` even when `amount` is set: pass only the one in use.
    ...(options.amount === undefined ? { duration: options.durationS } : { amount: options.amount }),
    timeout: options.timeoutS ?? 20,
    requests,
  });
  instance.on("response", (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
    latencies.push(responseTime);
  });
  instance.on("reqError", (err: { code?: string; message?: string }) => count(`socket ${err.code ?? err.message ?? "error"}`));
  const result = await instance;
  const durationS = result.duration > 0 ? result.duration : Number.NaN;
  return {
    requests: latencies.length,
    durationS,
    rps: latencies.length / durationS,
    latency: summarizeLatencies(latencies),
    errors,
    extra: {},
  };
}

/** Bearer header of a pre-minted access token. */
export function bearer(accessToken: string): Record<string, string> {
  return { authorization: `Bearer ${accessToken}` };
}

export const JSON_HEADERS = { "content-type": "application/json" };
