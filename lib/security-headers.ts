import type { IncomingMessage, ServerResponse } from "node:http";
import { domainError } from "./errors";

/**
 * The pages (SPEC §10) load their own scripts, styles and images only; nothing may frame them.
 * Harmless on JSON responses, so it is sent on every one.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const HEADERS: Record<string, string> = {
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  "Cross-Origin-Opener-Policy": "same-origin",
};

/** Sets the headers on a response before anything else writes it (404s and errors included). */
export function setSecurityHeaders(_req: IncomingMessage, res: ServerResponse): void {
  for (const [name, value] of Object.entries(HEADERS)) res.setHeader(name, value);
}

/** Request headers a browser client of this API sends, and response headers it may read. */
const ALLOWED_HEADERS = ["Authorization", "Content-Type", "X-Queue-Token", "Idempotency-Key", "X-Request-Id"];
const EXPOSED_HEADERS = ["X-Request-Id", "Retry-After", "X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset", "Location"];

/** moleculer-web `cors` settings for the configured origins; undefined (CORS off) when there are none. */
export function corsSettings(origins: string[]): Record<string, unknown> | undefined {
  if (!origins.length) return undefined;
  return {
    origin: origins,
    methods: ["GET", "POST", "PATCH", "DELETE"],
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    credentials: false,
    maxAge: 600,
  };
}

/**
 * Route middleware for CORS off: moleculer-web would route a preflight (OPTIONS with
 * Access-Control-Request-Method) to the action of the requested method and run it; refuse it instead.
 */
export function refusePreflight(req: IncomingMessage, _res: ServerResponse, next: (err?: unknown) => void): void {
  if (req.method === "OPTIONS") return next(domainError("FORBIDDEN", "Cross-origin requests are not allowed"));
  next();
}
