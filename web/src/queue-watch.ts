import { ApiError, call } from "./api";

export interface QueueStatus { status: string; position: number | null; etaSeconds: number | null; expiresAt: string | null }

/**
 * Live queue status (SPEC §8): the SSE stream GET /api/queue/stream when the gateway serves it;
 * if it is missing or drops (EventSource error), polling GET /api/queue/me as its Retry-After says
 * (1–30 s). Returns stop(). A poll also tells the server this user is still there (idle places expire).
 */
export function watchQueueStatus(
  token: string,
  queueToken: string,
  on: { status(s: QueueStatus): void; error(err: unknown): void },
): () => void {
  let stopped = false;
  let timer = 0;
  let source: EventSource | null = null;
  const stop = () => {
    stopped = true;
    window.clearTimeout(timer);
    source?.close();
  };
  const handle = (s: QueueStatus) => {
    if (!stopped) on.status(s);
  };
  const poll = async () => {
    if (stopped) return;
    let waitS = 2;
    try {
      const res = await call<QueueStatus>("GET", "/queue/me", { token, queueToken });
      handle(res.body);
      waitS = res.retryAfterS ?? 2;
    } catch (err) {
      on.error(err);
      if (err instanceof ApiError && err.status === 401) return stop();
      waitS = err instanceof ApiError && err.retryAfterS ? err.retryAfterS : 3;
    }
    if (!stopped) timer = window.setTimeout(poll, Math.min(30, Math.max(1, waitS)) * 1000);
  };
  if (typeof EventSource === "function") {
    source = new EventSource(`/api/queue/stream?queueToken=${encodeURIComponent(queueToken)}`);
    source.addEventListener("status", (e) => handle(JSON.parse((e as MessageEvent).data)));
    source.onerror = () => {
      source?.close();
      source = null;
      if (!stopped) void poll();
    };
  } else void poll();
  return stop;
}
