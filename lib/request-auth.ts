import type { IncomingMessage, ServerResponse } from "node:http";
import { bearerToken, type AccessTokenVerifier, type AuthUser } from "./auth";

/** The outcome of a request's bearer token: verified once, read by the rate limiter and `authenticate`. */
export interface RequestAuth {
  /** Null when there is no token or it was refused. */
  user: AuthUser | null;
  /** An Authorization header was sent and did not verify: 401, even on public routes. */
  refused: boolean;
}

type AuthRequest = IncomingMessage & { $auth?: RequestAuth };

const ANONYMOUS: RequestAuth = { user: null, refused: false };
const REFUSED: RequestAuth = { user: null, refused: true };

/** Route middleware: verifies the bearer token (async: JWKS keys may need a fetch) before the rate limit runs. */
export function verifyBearerMiddleware(verifier: AccessTokenVerifier) {
  return (req: IncomingMessage, _res: ServerResponse, next: (err?: unknown) => void): void => {
    const request = req as AuthRequest;
    const header = req.headers.authorization;
    if (header === undefined) {
      request.$auth = ANONYMOUS;
      return next();
    }
    const token = bearerToken(header);
    if (!token) {
      request.$auth = REFUSED;
      return next();
    }
    verifier.verify(token).then(
      (user) => {
        request.$auth = user ? { user, refused: false } : REFUSED;
        next();
      },
      (err: unknown) => next(err),
    );
  };
}

/** What the middleware found; a bearer on a request that never passed it is refused (fail closed). */
export function requestAuth(req: IncomingMessage): RequestAuth {
  return (req as AuthRequest).$auth ?? (req.headers.authorization === undefined ? ANONYMOUS : REFUSED);
}
