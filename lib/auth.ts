import { createPublicKey, createSecretKey, type KeyObject } from "node:crypto";
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import jwt from "jsonwebtoken";
import { getConfig, type Config } from "./config";
import { VerifiedTokens } from "./verified-tokens";

/** A user id as SPEC §3 defines it: the JWT `sub`, 1–64 chars of [A-Za-z0-9_-]. */
export const USER_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** The role an operator's token carries (SPEC §7). */
export const ADMIN_ROLE = "admin";
export const ROLES = [ADMIN_ROLE] as const;

/** What an identity provider may sign with; HS256 is the development (shared-secret) algorithm. */
export const ASYMMETRIC_ALGORITHMS = ["RS256", "ES256", "EdDSA"] as const;

export interface AuthUser {
  id: string;
  /** From the token's `roles` claim only (the identity provider's word), never from a request. */
  roles: string[];
}

export interface TokenClaims {
  issuer?: string;
  audience?: string;
}

/** The configured `iss` / `aud`, so that dev tokens pass a gateway that checks them. */
function configuredClaims(): TokenClaims {
  const config = getConfig();
  return { issuer: config.authJwtIssuer, audience: config.authJwtAudience };
}

/** A development (HS256) token; it always carries `exp`, which verification requires. */
export function signAccessToken(
  userId: string,
  secret: string,
  expiresInS = 3600,
  roles: readonly string[] = [],
  claims: TokenClaims = configuredClaims(),
): string {
  return jwt.sign(roles.length ? { roles } : {}, secret, {
    algorithm: "HS256",
    subject: userId,
    expiresIn: expiresInS,
    ...(claims.issuer ? { issuer: claims.issuer } : {}),
    ...(claims.audience ? { audience: claims.audience } : {}),
  });
}

export function hasRole(user: AuthUser | undefined, role: string): boolean {
  return user?.roles.includes(role) ?? false;
}

/** The `roles` claim as a list of strings; anything else in it grants nothing. */
function rolesClaim(claim: unknown): string[] {
  return Array.isArray(claim) ? claim.filter((role): role is string => typeof role === "string") : [];
}

export interface VerifierOptions {
  /** HS256 key; empty: HS256 tokens are refused. */
  secret: string;
  publicKeyPem?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  clockToleranceS?: number;
}

/**
 * Verifies bearer tokens: the algorithm must be one the configured keys allow (never `none`, never
 * HS256 against a public key), `exp` and `sub` are required, `iss`/`aud` are checked when configured.
 * Keys are built once (deriving a key object per request cost 18 % of a node's CPU); a JWKS is
 * fetched lazily and cached by jose, refetched when a token names an unknown `kid`.
 */
export class AccessTokenVerifier {
  private readonly secretKey?: KeyObject;
  private readonly publicKey?: KeyObject;
  private readonly jwks?: JWTVerifyGetKey;
  private readonly algorithms: string[];
  private readonly getKey: JWTVerifyGetKey;
  private readonly verified: VerifiedTokens;

  constructor(private readonly options: VerifierOptions) {
    if (options.secret) this.secretKey = createSecretKey(Buffer.from(options.secret, "utf8"));
    if (options.publicKeyPem) this.publicKey = createPublicKey(options.publicKeyPem);
    if (options.jwksUrl) this.jwks = createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 3000, cooldownDuration: 30_000 });
    this.verified = new VerifiedTokens(options.clockToleranceS ?? 0);
    const asymmetric = this.publicKey || this.jwks ? [...ASYMMETRIC_ALGORITHMS] : [];
    this.algorithms = [...(this.secretKey ? ["HS256"] : []), ...asymmetric];
    if (!this.algorithms.length) throw new Error("AccessTokenVerifier: no key configured (AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY or AUTH_JWKS_URL)");
    this.getKey = async (header, token) => {
      if (header.alg === "HS256" && this.secretKey) return this.secretKey;
      if (header.alg === "HS256") throw new Error("HS256 is not accepted here");
      // The PEM key answers for its own algorithm; the JWKS (when configured) for the others.
      if (this.publicKey && (algorithmOf(this.publicKey) === header.alg || !this.jwks)) return this.publicKey;
      if (this.jwks) return this.jwks(header, token);
      throw new Error(`No key for ${header.alg}`);
    };
  }

  /** The user of a bearer token, or null when it is forged, expired, malformed or not for us. */
  async verify(token: string): Promise<AuthUser | null> {
    const known = this.verified.get(token);
    if (known) return known;
    try {
      const { payload } = await jwtVerify(token, this.getKey, {
        algorithms: this.algorithms,
        requiredClaims: ["exp", "sub"],
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTolerance: this.options.clockToleranceS ?? 0,
      });
      const user = userOf(payload);
      if (user) this.verified.remember(token, user, payload.exp as number);
      return user;
    } catch {
      return null;
    }
  }
}

const KEY_ALGORITHMS: Record<string, string> = { rsa: "RS256", ec: "ES256", ed25519: "EdDSA" };

function algorithmOf(key: KeyObject): string | undefined {
  return KEY_ALGORITHMS[key.asymmetricKeyType ?? ""];
}

function userOf(payload: JWTPayload): AuthUser | null {
  if (typeof payload.sub !== "string" || !USER_ID_PATTERN.test(payload.sub)) return null;
  // Frozen: the verified-token cache hands the same object to every request of that token.
  return Object.freeze({ id: payload.sub, roles: Object.freeze(rolesClaim(payload.roles)) as string[] });
}

/** The verifier the configuration describes. */
export function verifierFromConfig(config: Config): AccessTokenVerifier {
  return new AccessTokenVerifier({
    secret: config.authJwtSecret,
    publicKeyPem: config.authJwtPublicKey,
    jwksUrl: config.authJwksUrl,
    issuer: config.authJwtIssuer,
    audience: config.authJwtAudience,
    clockToleranceS: config.authJwtClockToleranceS,
  });
}

const hs256Verifiers = new Map<string, AccessTokenVerifier>();

/** HS256 verification with one secret and the configured `iss`/`aud`/leeway (bench server, tests). */
export function verifyAccessToken(token: string, secret: string): Promise<AuthUser | null> {
  let verifier = hs256Verifiers.get(secret);
  if (!verifier) {
    const config = getConfig();
    verifier = new AccessTokenVerifier({
      secret,
      issuer: config.authJwtIssuer,
      audience: config.authJwtAudience,
      clockToleranceS: config.authJwtClockToleranceS,
    });
    hs256Verifiers.set(secret, verifier);
  }
  return verifier.verify(token);
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | string[] | undefined): string | null {
  if (typeof header !== "string") return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : null;
}
