import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, ServiceSchema } from "moleculer";
import ApiGateway, { type ApiSettingsSchema } from "moleculer-web";
import { getConfig } from "../lib/config";
import { bearerToken, verifyAccessToken, type AuthUser } from "../lib/auth";
import { domainError } from "../lib/errors";
import { RedisRateLimitStore } from "../lib/rate-limit-store";
import { HealthChecker } from "../lib/health";
import { RedisMixin, type RedisMethods } from "../mixins/redis.mixin";

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
}

const config = getConfig();
const gatewaySendError = (ApiGateway as unknown as { methods: { sendError: (...args: unknown[]) => void } }).methods.sendError;

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Body-parser failures become the API's own errors instead of a bare 400/500. */
function mapTransportError(err: unknown): unknown {
  const type = (err as { type?: string }).type;
  if (type === "entity.parse.failed") return domainError("INVALID_JSON", "The request body is not valid JSON");
  if (type === "entity.too.large") return domainError("PAYLOAD_TOO_LARGE", `The request body is larger than ${config.bodyLimit}`);
  if (type === "encoding.unsupported" || type === "charset.unsupported") {
    return domainError("VALIDATION_ERROR", "Unsupported request body encoding");
  }
  return err;
}

const ApiService: ServiceSchema<ApiSettingsSchema, Record<string, never>, ApiVars> = {
  name: "api",
  mixins: [ApiGateway, RedisMixin()],
  settings: {
    rest: "/",
    port: config.port,
    ip: "0.0.0.0",
    // No /api/v1 prefix in SPEC; every service's `rest` is relative to /api.
    routes: [
      {
        path: "/api",
        whitelist: ["**"],
        autoAliases: true,
        mappingPolicy: "restrict",
        authentication: true,
        authorization: true,
        mergeParams: true,
        bodyParsers: { json: { strict: true, limit: config.bodyLimit }, urlencoded: false },
        rateLimit:
          config.rateLimitPerMin > 0
            ? {
                window: 60_000,
                limit: config.rateLimitPerMin,
                headers: true,
                key: (req: IncomingMessage) => {
                  const token = bearerToken(req.headers.authorization);
                  const user = token ? verifyAccessToken(token, config.authJwtSecret) : null;
                  return user ? `user:${user.id}` : `ip:${req.socket.remoteAddress ?? "unknown"}`;
                },
                StoreFactory: RedisRateLimitStore,
              }
            : undefined,
        onBeforeCall(ctx: Context<unknown, RequestMeta>, _route: unknown, req: IncomingMessage) {
          ctx.meta.queueToken = header(req, "x-queue-token");
          ctx.meta.idempotencyKey = header(req, "idempotency-key");
        },
      },
    ],
  },
  actions: {
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
  methods: {
    /** moleculer-web's error writer, after mapping body-parser failures to the API's errors. */
    sendError(req: IncomingMessage, res: ServerResponse, err: unknown): void {
      gatewaySendError.call(this, req, res, mapTransportError(err));
    },
    /** A valid bearer token sets ctx.meta.user; a bad one is refused even on public routes. */
    authenticate(ctx: Context, _route: unknown, req: GatewayRequest): AuthUser | null {
      const raw = req.headers.authorization;
      if (raw === undefined) return null;
      const token = bearerToken(raw);
      const user = token ? verifyAccessToken(token, config.authJwtSecret) : null;
      if (!user) throw domainError("UNAUTHORIZED", "Missing, malformed, expired or forged bearer token");
      return user;
    },
    /** Actions that declare `auth: "required"` need a user. */
    authorize(ctx: Context<unknown, RequestMeta>, _route: unknown, req: GatewayRequest): void {
      if (req.$action?.auth === "required" && !ctx.meta.user) {
        throw domainError("UNAUTHORIZED", "This endpoint needs an Authorization: Bearer token");
      }
    },
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
