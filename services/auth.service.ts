import type { Context, ServiceSchema } from "moleculer";
import { getConfig } from "../lib/config";
import { ROLES, signAccessToken } from "../lib/auth";
import { domainError } from "../lib/errors";
import { CALL_TIMEOUT_MS, RETRY } from "../lib/call-policy";

/**
 * Development identity: mints bearer tokens. Production takes its tokens from the organisation's
 * identity provider, so this answers 404 when NODE_ENV=production.
 */
const AuthService: ServiceSchema = {
  name: "auth",
  settings: { rest: "/auth" },
  actions: {
    devToken: {
      rest: "POST /dev-token",
      timeout: CALL_TIMEOUT_MS.read,
      retryPolicy: RETRY.safe, // signs a token, writes nothing
      params: {
        userId: { type: "string", pattern: /^[A-Za-z0-9_-]{1,64}$/ },
        // `["admin"]` mints an operator's token (SPEC §7).
        roles: { type: "array", optional: true, unique: true, max: ROLES.length, items: { type: "enum", values: [...ROLES] } },
      },
      handler(ctx: Context<{ userId: string; roles?: string[] }>) {
        const config = getConfig();
        if (config.production) throw domainError("NOT_FOUND", "Not found");
        const { userId, roles = [] } = ctx.params;
        return { accessToken: signAccessToken(userId, config.authJwtSecret, undefined, roles) };
      },
    },
  },
};

export default AuthService;
