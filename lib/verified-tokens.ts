import { LRUCache } from "lru-cache";
import type { AuthUser } from "./auth";

/** How long a verified token is trusted without checking its signature again. */
const MAX_TRUST_MS = 60_000;
/** Bytes of token text kept (a HS256 token is ~200 B, a RS256 one ~800 B): 10k–40k tokens. */
const MAX_BYTES = 8 * 2 ** 20;

/**
 * Bearer tokens this node verified recently, by their exact text: a waiting user polls with the
 * same token every few seconds, and a signature check (HMAC or RSA, plus decoding and the claims)
 * was the largest CPU cost of a status poll. Only successes are kept, each until the earlier of its
 * `exp` (plus the leeway the verifier allows) and MAX_TRUST_MS after it was checked, so a key
 * withdrawn from the JWKS stops being honoured within a minute. Bounded by bytes, least recently
 * used first out.
 */
export class VerifiedTokens {
  private readonly cache = new LRUCache<string, { user: AuthUser; untilMs: number }>({
    maxSize: MAX_BYTES,
    sizeCalculation: (_value, token) => token.length + 64,
  });

  constructor(private readonly clockToleranceS = 0) {}

  /** The user of a token verified before and still in date, or undefined. */
  get(token: string, nowMs = Date.now()): AuthUser | undefined {
    const hit = this.cache.get(token);
    if (!hit) return undefined;
    if (hit.untilMs > nowMs) return hit.user;
    this.cache.delete(token);
    return undefined;
  }

  /** Remembers a token whose signature and claims passed; `expS` is its `exp` claim. */
  remember(token: string, user: AuthUser, expS: number, nowMs = Date.now()): void {
    const untilMs = Math.min((expS + this.clockToleranceS) * 1000, nowMs + MAX_TRUST_MS);
    if (untilMs > nowMs) this.cache.set(token, { user, untilMs });
  }
}
