import type { IncomingMessage, ServerResponse } from "node:http";
import type { Config } from "./config";
import { verifierFromConfig } from "./auth";
import { parseTrustProxy } from "./client-ip";
import { RedisRateLimitStore, rateLimitKey } from "./rate-limit-store";
import { verifyBearerMiddleware } from "./request-auth";
import { corsSettings, refusePreflight } from "./security-headers";

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

export interface GatewaySecurity {
  /** moleculer-web `settings.cors` (undefined: CORS off). */
  cors: Record<string, unknown> | undefined;
  /** Route middlewares: refuse preflights while CORS is off, then verify the bearer token once. */
  use: Middleware[];
  /** Route `rateLimit` (undefined when RATE_LIMIT_PER_MIN=0). */
  rateLimit: Record<string, unknown> | undefined;
}

/** The gateway's security settings from the configuration; a bad TRUST_PROXY or key fails the start. */
export function gatewaySecurity(config: Config): GatewaySecurity {
  const trust = parseTrustProxy(config.trustProxy);
  const cors = corsSettings(config.corsOrigins);
  const verifyBearer = verifyBearerMiddleware(verifierFromConfig(config));
  return {
    cors,
    use: cors ? [verifyBearer] : [refusePreflight, verifyBearer],
    rateLimit:
      config.rateLimitPerMin > 0
        ? {
            window: 60_000,
            limit: config.rateLimitPerMin,
            strictLimit: config.rateLimitStrictPerMin,
            redisUrl: config.redisUrl,
            redisPrefix: config.redisPrefix,
            // The store writes the headers (and Retry-After) for each request itself.
            headers: false,
            key: rateLimitKey(trust),
            StoreFactory: RedisRateLimitStore,
          }
        : undefined,
  };
}
