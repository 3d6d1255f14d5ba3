import type Redis from "ioredis";
import { queueKeys } from "./queue-keys";
import { verifyQueueToken } from "./queue-token";

export type ActiveCheck = "ACTIVE" | "INVALID" | "NOT_ACTIVE";

/**
 * Is `token` the caller's current queue token for `concertId`, and is it ACTIVE right now?
 * INVALID: forged, tampered, another user's or another concert's token (401);
 * NOT_ACTIVE: genuine but still waiting, expired or left (403).
 */
export async function checkActiveToken(
  redis: Redis,
  prefix: string,
  secret: string,
  token: unknown,
  userId: string,
  concertId: number,
): Promise<ActiveCheck> {
  const claims = verifyQueueToken(token, secret);
  if (!claims || claims.userId !== userId || claims.concertId !== concertId) return "INVALID";
  const keys = queueKeys(prefix, concertId);
  const [[, nonce], [, expiresAt], [, now]] = (await redis
    .multi()
    .hget(keys.tokens, userId)
    .zscore(keys.active, userId)
    .time()
    .exec()) as [[null, string | null], [null, string | null], [null, [string, string]]];
  const nowMs = Number(now[0]) * 1000 + Math.floor(Number(now[1]) / 1000);
  if (nonce !== claims.nonce || expiresAt === null || Number(expiresAt) <= nowMs) return "NOT_ACTIVE";
  return "ACTIVE";
}

/** Whether the entry of this genuine token was left by its user (DELETE /queue/me), as Redis remembers it. */
export async function tokenWasLeft(redis: Redis, prefix: string, secret: string, token: unknown, concertId: number): Promise<boolean> {
  const claims = verifyQueueToken(token, secret);
  if (!claims) return false;
  return (await redis.hget(queueKeys(prefix, concertId).left, claims.userId)) === claims.nonce;
}
