import { verdictForStatus, type AttemptVerdict } from "./retry-policy";

/** The outcome of one POST: an HTTP status, or no answer at all (timeout, refused, reset). */
export interface AttemptResult {
  verdict: AttemptVerdict;
  status?: number;
  /** Short description for logs and dead-letter headers. */
  detail: string;
}

const DETAIL_MAX = 300;

/** HTTP client of the external data platform (SPEC §4, §7): `POST ${url}/reservations`, `POST ${url}/refunds`. */
export class DataPlatformClient {
  private readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly timeoutMs: number,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  /**
   * Posts one message value as is (the JSON of the Kafka message). Timeouts and network errors
   * come back as "retry"; it throws only when `signal` aborts the attempt (the consumer stops).
   */
  async post(body: string, signal?: AbortSignal, path = "/reservations"): Promise<AttemptResult> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      const response = await fetch(this.baseUrl + path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
      });
      const text = await response.text();
      return {
        verdict: verdictForStatus(response.status),
        status: response.status,
        detail: `HTTP ${response.status}${text ? `: ${text.slice(0, DETAIL_MAX)}` : ""}`,
      };
    } catch (err) {
      if (signal?.aborted) throw signal.reason ?? err;
      if (timeout.aborted) return { verdict: "retry", detail: `no answer within ${this.timeoutMs} ms` };
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return { verdict: "retry", detail: `network error: ${cause?.code ?? cause?.message ?? (err as Error).message}` };
    }
  }
}
