import type { IncomingMessage, ServerResponse } from "node:http";
import type { Service } from "moleculer";

type LoggerInstance = Service["logger"];

type LoggedRequest = IncomingMessage & { $route?: { logging?: boolean }; $startTime?: [number, number]; originalUrl?: string; $ctx?: { requestID?: string } };
type Level = "info" | "debug" | "warn" | "trace";

/** The request id the gateway gave this request (the X-Request-Id it echoes), for log lines. */
export function requestIdOf(req: IncomingMessage, res?: ServerResponse): string {
  const fromHeader = res?.getHeader("x-request-id");
  return (typeof fromHeader === "string" && fromHeader) || (req as LoggedRequest).$ctx?.requestID || "-";
}

/** Path without the query string: tokens or ids in queries stay out of the logs. */
function pathOf(req: LoggedRequest): string {
  return (req.originalUrl ?? req.url ?? "").split("?")[0];
}

/** moleculer-web's request log line, with the request id so a client's report can be found. */
export function logRequestLine(logger: LoggerInstance, level: Level | false, req: IncomingMessage): void {
  const request = req as LoggedRequest;
  if (!level || request.$route?.logging === false) return;
  logger[level](`=> ${req.method} ${pathOf(request)} [req ${requestIdOf(req)}]`);
}

export function logResponseLine(logger: LoggerInstance, level: Level | false, req: IncomingMessage, res: ServerResponse): void {
  const request = req as LoggedRequest;
  if (!level || request.$route?.logging === false) return;
  let time = "";
  if (request.$startTime) {
    const [s, ns] = process.hrtime(request.$startTime);
    time = ` [+${(s * 1000 + ns / 1e6).toFixed(3)} ms]`;
  }
  logger[level](`<= ${res.statusCode} ${req.method} ${pathOf(request)}${time} [req ${requestIdOf(req, res)}]`);
}
