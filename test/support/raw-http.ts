/** A raw HTTP/1.1 client over node:net, for requests no HTTP library would send (fuzzing). */
import { connect } from "node:net";

export interface RawResponse {
  /** null when the server closed the connection without a status line. */
  status: number | null;
  headers: string;
  body: string;
  ms: number;
  /** The connection neither answered nor closed within the timeout. */
  hung: boolean;
}

/**
 * Writes `bytes` (never half-closes: a client that stalls must look like one) and collects the
 * answer until the server closes or the declared Content-Length has arrived.
 */
export function rawRequest(port: number, bytes: Buffer | string, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (hung: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      const head = split >= 0 ? text.slice(0, split) : text;
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({
        status: match ? Number(match[1]) : null,
        headers: head,
        body: split >= 0 ? Buffer.from(dechunk(head, text.slice(split + 4)), "latin1").toString("utf8") : "",
        ms: Date.now() - started,
        hung,
      });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      if (split < 0) return;
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, split));
      if (length && Buffer.byteLength(text.slice(split + 4), "latin1") >= Number(length[1])) finish(false);
    });
    socket.on("close", () => finish(false));
    socket.on("error", () => finish(false));
    socket.write(bytes);
  });
}

/** A request's bytes: request line, headers (Host and Connection: close added) and body. */
export function rawBytes(method: string, path: string, headers: Record<string, string>, body?: Buffer | string): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close"];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body);
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-length")) {
    lines.push(`Content-Length: ${payload.length}`);
  }
  return Buffer.concat([Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1"), payload]);
}

/** The payload of a `Transfer-Encoding: chunked` body (moleculer-web's error answers are chunked). */
function dechunk(head: string, body: string): string {
  if (!/\r\ntransfer-encoding: *chunked/i.test(head)) return body;
  let out = "";
  let at = 0;
  for (;;) {
    const eol = body.indexOf("\r\n", at);
    if (eol < 0) return out;
    const size = parseInt(body.slice(at, eol), 16);
    if (!size) return out;
    out += body.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}
