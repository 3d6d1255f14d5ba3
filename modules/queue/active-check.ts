import type { RedisClient } from "../../mixins/redis.mixin";
import { queueKeys } from "./queue-keys";
import { defineQueueScripts } from "./queue-scripts";
import { verifyQueueToken } from "./queue-token";

export type ActiveCheck = "ACTIVE" | "INVALID" | "NOT_ACTIVE";

/**
 * Is `token` the caller's current queue token for `concertId`, and is it ACTIVE right now?
 * INVALID: forged, tampered, another user's or another concert's token (401);
 * NOT_ACTIVE: genuine but still waiting, expired or left (403).
 */
export async function checkActiveToken(
  redis: RedisClient,
  prefix: string,
  secret: string,
  token: unknown,
  userId: string,
  concertId: number,
): Promise<ActiveCheck> {
  const claims = verifyQueueToken(token, secret);
  if (!claims || claims.userId !== userId || claims.concertId !== concertId) return "INVALID";
  const keys = queueKeys(prefix, concertId);
  const active = await defineQueueScripts(redis).isActive(keys.tokens, keys.active, userId, claims.nonce);
  return active === 1 ? "ACTIVE" : "NOT_ACTIVE";
}

/** Whether the entry of this genuine token was left by its user (DELETE /queue/me), as Redis remembers it. */
export async function tokenWasLeft(redis: RedisClient, prefix: string, secret: string, token: unknown, concertId: number): Promise<boolean> {
  const claims = verifyQueueToken(token, secret);
  if (!claims) return false;
  return (await redis.hget(queueKeys(prefix, concertId).left, claims.userId)) === claims.nonce;
}
