/**
 * Child process of bench/stream-measure.ts: the SSE clients, apart from the gateway so that the
 * gateway's RSS and CPU are its own (and each process stays under its file-descriptor limit).
 * IPC: {port, tokens} → connects in waves of 500 → {connected, ms}; "report" → {seen: [index, atMs][]}.
 */
import http from "node:http";

const seenActive = new Map<number, number>();
const sockets: http.ClientRequest[] = [];
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

function connectOne(port: number, token: string, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get({ port, path: `/api/queue/stream?queueToken=${encodeURIComponent(token)}`, agent }, (res) => {
      res.setEncoding("utf8");
      let first = true;
      res.on("data", (chunk: string) => {
        if (first && chunk.includes("event: status")) {
          first = false;
          resolve();
        }
        if (chunk.includes('"status":"ACTIVE"') && !seenActive.has(n)) seenActive.set(n, Date.now());
      });
    });
    req.on("error", reject);
    sockets.push(req);
  });
}

process.on("message", async (message: { port?: number; tokens?: string[] } | "report") => {
  if (message === "report") {
    // Exit only once the (large) report is written to the IPC channel.
    process.send?.({ seen: [...seenActive.entries()] }, undefined, {}, () => {
      for (const req of sockets) req.destroy();
      process.exit(0);
    });
    return;
  }
  const { port, tokens } = message as { port: number; tokens: string[] };
  const t0 = Date.now();
  // Waves of 500: a listen backlog (511) overflowed by a burst of SYNs costs seconds of retransmits.
  for (let i = 0; i < tokens.length; i += 500) {
    await Promise.all(tokens.slice(i, i + 500).map((token, j) => connectOne(port, token, i + j)));
  }
  process.send?.({ connected: tokens.length, ms: Date.now() - t0 });
});
