import http from "node:http";

/** One `event:`/`data:` frame of a Server-Sent Events stream. */
export interface SseEvent {
  event: string;
  data: any;
  atMs: number;
}

/** A raw node:http SSE client: records frames and comment lines as they arrive. */
export class SseClient {
  readonly events: SseEvent[] = [];
  comments = 0;
  ended = false;
  private buffer = "";
  private readonly waiters: Array<() => void> = [];

  constructor(
    readonly status: number,
    readonly headers: http.IncomingHttpHeaders,
    private readonly req: http.ClientRequest,
    readonly res: http.IncomingMessage,
  ) {
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => this.feed(chunk));
    res.on("end", () => this.finish());
    res.on("close", () => this.finish());
    res.on("error", () => this.finish());
  }

  /** The body of a non-SSE answer (an error), as JSON. */
  async json(): Promise<any> {
    await this.until(() => this.ended, "body", 5000);
    return JSON.parse(this.buffer);
  }

  /** Resolves once `check` holds (re-checked on every frame), or fails after `timeoutMs`. */
  until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`SSE: never saw ${what}; got ${JSON.stringify(this.events.map((e) => e.data))}`)), timeoutMs);
      const waiter = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        resolve();
      };
      this.waiters.push(waiter);
    });
  }

  close(): void {
    this.req.destroy();
  }

  private feed(chunk: string): void {
    if (this.status !== 200) {
      this.buffer += chunk;
      return;
    }
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf("\n\n")) >= 0) {
      const frame = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = "message";
      let data: string | null = null;
      for (const line of frame.split("\n")) {
        if (line.startsWith(":")) this.comments++;
        else if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data = line.slice(6);
      }
      if (data !== null) this.events.push({ event, data: JSON.parse(data), atMs: Date.now() });
    }
    this.notify();
  }

  private finish(): void {
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** Opens `url` (GET, Accept: text/event-stream) and resolves when the response headers arrive. */
export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: "text/event-stream", ...headers }, agent: false }, (res) => {
      resolve(new SseClient(res.statusCode ?? 0, res.headers, req, res));
    });
    req.on("error", reject);
  });
}
