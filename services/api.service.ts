import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Context, ServiceSchema } from "moleculer";
import ApiGateway, { type ApiSettingsSchema } from "moleculer-web";
import { getConfig } from "../lib/config";
import { ADMIN_ROLE, hasRole, type AuthUser } from "../lib/auth";
import { domainError } from "../lib/errors";
import type { RedisRateLimitStore } from "../lib/rate-limit-store";
import { gatewaySecurity } from "../lib/gateway-security";
import { requestAuth } from "../lib/request-auth";
import { setSecurityHeaders } from "../lib/security-headers";
import { logRequestLine, logResponseLine } from "../lib/request-log";
import { HealthChecker } from "../lib/health";
import { OutageLog, RETRY_AFTER_S, ServiceUnavailableError, sanitizeError } from "../lib/error-boundary";
import { RouteMemory } from "../lib/route-memory";
import { hardenServer, mapBodyParserError, requestIdFor, verifyJsonBody } from "../lib/http-guard";
import { RedisMixin, type RedisMethods } from "../mixins/redis.mixin";
import { QueueStreamMixin, type QueueStreamMethods } from "../mixins/queue-stream.mixin";
import { docsPage, gatewayOpenApi } from "../lib/openapi/gateway";
import { publicDir } from "../lib/web-assets";

/** What the gateway puts in ctx.meta for the services behind it. */
export interface RequestMeta {
  user?: AuthUser;
  queueToken?: string;
  idempotencyKey?: string;
  $statusCode?: number;
}

type GatewayRequest = IncomingMessage & { $action?: { auth?: string }; $ctx?: Context };
interface ApiVars extends RedisMethods {
  health: HealthChecker;
  errorLog: OutageLog;
  routeMemory: RouteMemory;
  server: Server;
  aliases: Array<{ method: string; fullPath: string; action?: string; match(url: string): unknown }>;
}

const config = getConfig();
// CORS, bearer verification (once per request), rate limit by user or client IP (lib/gateway-security.ts).
const security = gatewaySecurity(config);
const gatewaySendError = (ApiGateway as unknown as { methods: { sendError: (...args: unknown[]) => void } }).methods.sendError;

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const KEEP_ALIVE_TIMEOUT_MS = 5000;
// The buyer's page (/), the operator's console (/admin) and Swagger UI, built by `npm run build` (web/).
const PUBLIC_DIR = publicDir();

/**
 * moleculer-web's 404 for a route it served before and does not route now: its service has no live
 * node, or the gateway is still rebuilding its routes after nodes came back (a NATS restart drops and
 * re-adds every remote service). Either way the route exists and will answer again: 503 "service"
 * (lib/route-memory.ts).
 */
function vanishedRoute(memory: RouteMemory, routed: RouteMemory, req: IncomingMessage, err: unknown): Error | undefined {
  const e = err as { name?: unknown; code?: unknown };
  if (e.name !== "NotFoundError" || e.code !== 404) return undefined;
  const path = (req as IncomingMessage & { parsedUrl?: string }).parsedUrl ?? (req.url ?? "").split("?")[0];
  const method = req.method ?? "";
  if (!memory.actionFor(method, path) || routed.actionFor(method, path)) return undefined;
  return new ServiceUnavailableError("service");
}

const ApiService: ServiceSchema<ApiSettingsSchema, Record<string, never>, ApiVars> = {
  name: "api",
  mixins: [ApiGateway, RedisMixin(), QueueStreamMixin()],
  settings: {
    rest: "/",
    port: config.port,
    ip: "0.0.0.0",
    // Served only for requests no route matched (moleculer-web); `extensions` maps /admin to admin.html.
    assets: { folder: PUBLIC_DIR, options: { extensions: ["html"], index: "index.html" } },
    cors: security.cors,
    // Every request gets an id (the caller's X-Request-Id when well-formed), echoed on every response.
    rootCallOptions: ((options: { requestID?: string }, req: IncomingMessage, res: ServerResponse) => {
      options.requestID = requestIdFor(req);
      res.setHeader("X-Request-Id", options.requestID);
    }) as unknown as ApiSettingsSchema["rootCallOptions"],
    // No /api/v1 prefix in SPEC; every service's `rest` is relative to /api.
    routes: [
      {
        path: "/api",
        whitelist: ["**"],
        autoAliases: true,
        aliases: {
          "GET /docs": docsPage(PUBLIC_DIR),
          // Server-Sent Events of the caller's queue place (SPEC §8), served by this node (mixins/queue-stream.mixin.ts).
          "GET /queue/stream"(this: QueueStreamMethods, req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) {
            this.serveQueueStream(req, res, next);
          },
        },
        mappingPolicy: "restrict",
        authentication: true,
        authorization: true,
        mergeParams: true,
        // verify refuses non-UTF-8 and JSON nested deeper than 64 levels before JSON.parse runs.
        bodyParsers: { json: { strict: true, limit: config.bodyLimit, verify: verifyJsonBody }, urlencoded: false },
        use: security.use,
        rateLimit: security.rateLimit as ApiSettingsSchema["rateLimit"],
        onBeforeCall(ctx: Context<unknown, RequestMeta>, _route: unknown, req: IncomingMessage) {
          ctx.meta.queueToken = header(req, "x-queue-token");
          ctx.meta.idempotencyKey = header(req, "idempotency-key");
        },
      },
    ],
  },
  actions: {
    // moleculer-web's alias listing would map the whole API for anyone: not served.
    listAliases: false,
    /** OpenAPI 3.1 of every route the gateway serves now, from the routed actions' schemas (SPEC §10). */
    openapi: {
      rest: "GET /openapi.json",
      params: {},
      handler() {
        return gatewayOpenApi(this.broker, this.aliases);
      },
    },
    health: {
      rest: "GET /health",
      params: {},
      async handler(ctx: Context<unknown, RequestMeta>) {
        const report = await this.health.check();
        if (report.status !== "ok") ctx.meta.$statusCode = 503;
        return report;
      },
    },
  },
  events: {
    // Runs before moleculer-web's debounced alias rebuild, so it still sees a leaving service's routes.
    "$services.changed"() {
      this.routeMemory.remember(this.aliases);
    },
  },
  methods: {
    /**
     * The gateway's error boundary (SPEC §11): body-parser failures become the API's errors, then
     * a domain error passes, unavailability is 503 with Retry-After, anything else a generic 500.
     */
    sendError(req: IncomingMessage, res: ServerResponse, err: unknown): void {
      const requestId = res.getHeader("x-request-id") as string | undefined;
      const mapped = vanishedRoute(this.routeMemory, RouteMemory.of(this.aliases), req, err) ?? mapBodyParserError(err, config.bodyLimit);
      const sanitized = sanitizeError(mapped, requestId);
      const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? "";
      this.errorLog.record(`${req.method} ${url.split("?")[0]}`, err, sanitized, requestId);
      if (sanitized.classification.kind === "unavailable" && !res.headersSent) {
        res.setHeader("Retry-After", String(RETRY_AFTER_S[sanitized.classification.dependency]));
      }
      gatewaySendError.call(this, req, res, sanitized.error);
    },
    /** sendError logs what it replaces (throttled during outages); no per-request stack dump. */
    errorHandler(req: IncomingMessage, res: ServerResponse, err: unknown): void {
      (this as unknown as { sendError(...args: unknown[]): void }).sendError(req, res, err);
    },
    /** A valid bearer token sets ctx.meta.user; a bad one is refused even on public routes. */
    authenticate(ctx: Context, _route: unknown, req: GatewayRequest): AuthUser | null {
      // Verified once per request by the route's middleware (lib/request-auth.ts).
      const auth = requestAuth(req);
      if (auth.refused) throw domainError("UNAUTHORIZED", "Missing, malformed, expired or forged bearer token");
      return auth.user;
    },
    /** moleculer-web's request/response log lines, with the request id (X-Request-Id). */
    logRequest(req: IncomingMessage): void {
      logRequestLine(this.logger, this.settings.logRequest as "info", req);
    },
    logResponse(req: IncomingMessage, res: ServerResponse): void {
      logResponseLine(this.logger, this.settings.logResponse as "info", req, res);
    },
    /** Actions that declare `auth: "required"` need a user; `auth: "admin"` a user with the admin role. */
    authorize(ctx: Context<unknown, RequestMeta>, _route: unknown, req: GatewayRequest): void {
      const auth = req.$action?.auth;
      if ((auth === "required" || auth === "admin") && !ctx.meta.user) {
        throw domainError("UNAUTHORIZED", "This endpoint needs an Authorization: Bearer token");
      }
      if (auth === "admin" && !hasRole(ctx.meta.user, ADMIN_ROLE)) {
        throw domainError("FORBIDDEN", "This endpoint is for operators");
      }
    },
  },
  created() {
    this.errorLog = new OutageLog(this.logger);
    this.routeMemory = new RouteMemory();
    // moleculer-web created the server in its own created(); it listens in started().
    hardenServer(this.server, { requestTimeoutMs: config.httpRequestTimeoutMs, keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS });
    // Before moleculer-web's handler, so 404s and errors carry them too.
    this.server.prependListener("request", setSecurityHeaders);
  },
  async started() {
    this.health = new HealthChecker(config.databaseUrl, config.kafkaBrokers, this.redis, this.broker);
  },
  async stopped() {
    await this.health?.close();
    const routes = (this as unknown as { routes?: Array<{ rateLimit?: { store?: RedisRateLimitStore } }> }).routes ?? [];
    await Promise.all(routes.map((route) => route.rateLimit?.store?.close?.()));
  },
};

export default ApiService;
