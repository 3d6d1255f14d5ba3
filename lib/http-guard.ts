/**
 * Broken HTTP is refused at the gateway before it reaches the broker (SPEC §11): body-parser
 * failures become the API's own errors, JSON nested too deep is refused before it is parsed,
 * and the node:http server gets request, header and keep-alive timeouts and a client-error
 * writer that answers in the API's error shape.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { domainError } from "./errors";
import { jsonTooDeepError } from "./error-boundary";

export const MAX_JSON_DEPTH = 64;

/**
 * True when the JSON text in `buf` nests arrays/objects deeper than `max`. One pass over the bytes,
 * skipping strings; UTF-8 continuation bytes never equal an ASCII bracket or quote.
 */
export function jsonDepthExceeds(buf: Uint8Array, max: number): boolean {
  let depth = 0;
  const length = buf.length;
  for (let i = 0; i < length; i++) {
    const b = buf[i];
    if (b === 0x22) {
      // Skip to the closing quote, stepping over escapes.
      for (i++; i < length; i++) {
        const c = buf[i];
        if (c === 0x5c) i++;
        else if (c === 0x22) break;
      }
    } else if (b === 0x7b || b === 0x5b) {
      if (++depth > max) return true;
    } else if (b === 0x7d || b === 0x5d) {
      depth--;
    }
  }
  return false;
}

function typed(type: string, message: string): Error {
  return Object.assign(new Error(message), { type });
}

/** body-parser `verify` for JSON: UTF-8 only (RFC 8259), and no deeper than MAX_JSON_DEPTH. */
export function verifyJsonBody(_req: IncomingMessage, _res: unknown, buf: Buffer, encoding: string): void {
  if (encoding !== "utf-8") throw typed("json.charset", "JSON bodies must be UTF-8");
  if (jsonDepthExceeds(buf, MAX_JSON_DEPTH)) throw typed("json.too.deep", "JSON nested too deep");
}

const BODY_PARSER_TYPE = /^(entity|request|stream|encoding|charset|parameters|json)\./;

/**
 * body-parser's errors as the API's errors; anything else is returned unchanged. They arrive
 * either raw (http-errors with `status` and a dotted `type`) or, after moleculer-web's route
 * middleware chain, as a MoleculerError(message, err.code || err.status, err.type): then a zlib
 * failure shows up as a string `code` such as Z_DATA_ERROR and no type.
 */
export function mapBodyParserError(err: unknown, bodyLimit: string): unknown {
  if (err === null || typeof err !== "object") return err;
  const e = err as { status?: unknown; code?: unknown; type?: unknown; name?: unknown };
  const type = typeof e.type === "string" ? e.type : "";
  const fromParser =
    BODY_PARSER_TYPE.test(type) ||
    (type === "" && typeof e.code === "string" && (e.name === "MoleculerError" || typeof e.status === "number"));
  if (!fromParser) return err;
  switch (type) {
    case "entity.parse.failed":
      return domainError("INVALID_JSON", "The request body is not valid JSON");
    case "json.too.deep":
      return jsonTooDeepError(MAX_JSON_DEPTH);
    case "entity.too.large":
      return domainError("PAYLOAD_TOO_LARGE", `The request body is larger than ${bodyLimit}`);
    case "encoding.unsupported":
      return domainError("UNSUPPORTED_MEDIA_TYPE", "Unsupported Content-Encoding (use gzip, deflate, br or none)");
    case "charset.unsupported":
    case "json.charset":
      return domainError("UNSUPPORTED_MEDIA_TYPE", "Unsupported charset (JSON bodies must be UTF-8)");
    default:
      // Corrupt gzip/deflate/br, a body that does not match its Content-Length, an aborted upload.
      return domainError("INVALID_BODY", "The request body could not be read");
  }
}

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{8,64}$/;

/** The request id of a request: the caller's X-Request-Id when it looks like one, else a new UUID. */
export function requestIdFor(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && CLIENT_REQUEST_ID.test(given) ? given : randomUUID();
}

function rawResponse(status: number, reason: string, type: string, message: string): string {
  const body = JSON.stringify({ name: "HttpError", message, code: status, type });
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

/** What node:http's parser or timers refused, answered in the API's error shape. */
export function clientErrorResponse(code: string | undefined): string | null {
  switch (code) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return rawResponse(408, "Request Timeout", "REQUEST_TIMEOUT", "The request was not received in time");
    case "HPE_HEADER_OVERFLOW":
      return rawResponse(431, "Request Header Fields Too Large", "INVALID_BODY", "The request headers are too large");
    case "ECONNRESET":
    case "EPIPE":
      return null; // the client is gone
    default:
      return rawResponse(400, "Bad Request", "INVALID_BODY", "Malformed HTTP request");
  }
}

export interface ServerTimeouts {
  /** Receiving a whole request (headers and body) may take at most this long. */
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

/**
 * Timeouts and client-error handling on the gateway's server; call before it listens (node:http
 * reads connectionsCheckingInterval when listening). The expiry check runs every `interval`, so
 * the request timeout is shortened by one interval: a stalled request is answered 408 within
 * `requestTimeoutMs`, not up to 30 s (node's default interval) later.
 */
export function hardenServer(server: Server, timeouts: ServerTimeouts): void {
  const interval = Math.max(25, Math.min(1000, Math.floor(timeouts.requestTimeoutMs / 10)));
  const requestTimeout = Math.max(1, timeouts.requestTimeoutMs - interval);
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = interval;
  server.requestTimeout = requestTimeout;
  server.headersTimeout = requestTimeout;
  server.keepAliveTimeout = timeouts.keepAliveTimeoutMs;
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    const response = clientErrorResponse(err.code);
    // A keep-alive socket may carry a response in progress: never write into the middle of it.
    const pending = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (response && socket.writable && !pending?.headersSent) closeWith(socket, response);
    else socket.destroy();
  });
  // CONNECT is not ours to serve; without a listener node would just drop the socket.
  server.on("connect", (_req: IncomingMessage, socket: Duplex) => {
    closeWith(socket, rawResponse(405, "Method Not Allowed", "NOT_FOUND", "Method not allowed"));
  });
}

/** Writes a last response and closes; a client that never reads is cut off a second later. */
function closeWith(socket: Duplex, response: string): void {
  socket.end(response);
  setTimeout(() => socket.destroy(), 1000).unref();
}
