import type { Context, ServiceSchema } from "moleculer";
import { getConfig } from "../lib/config";
import { signAccessToken } from "../lib/auth";
import { domainError } from "../lib/errors";

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
      params: {
        userId: { type: "string", pattern: /^[A-Za-z0-9_-]{1,64}$/ },
      },
      handler(ctx: Context<{ userId: string }>) {
        const config = getConfig();
        if (config.production) throw domainError("NOT_FOUND", "Not found");
        return { accessToken: signAccessToken(ctx.params.userId, config.authJwtSecret) };
      },
    },
  },
};

export default AuthService;
