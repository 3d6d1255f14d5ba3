import type { RedisClient } from "../../mixins/redis.mixin";
import { queueKeys } from "./queue-keys";
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
  const active = await withActiveScript(redis).concertQueueIsActive(keys.tokens, keys.active, userId, claims.nonce);
  return active === 1 ? "ACTIVE" : "NOT_ACTIVE";
}

/**
 * KEYS: tokens, active; ARGV: userId, nonce. 1 when the nonce is the user's current one and its
 * admission has not expired (Redis clock). One EVALSHA per guarded request: the MULTI of
 * HGET + ZSCORE + TIME it replaces was five commands and a transaction object per request.
 */
const IS_ACTIVE_LUA = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
local exp = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not exp then return 0 end
local t = redis.call('TIME')
if tonumber(exp) > tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) then return 1 end
return 0`;

type ActiveScript = { concertQueueIsActive(tokensKey: string, activeKey: string, userId: string, nonce: string): Promise<number> };

function withActiveScript(redis: RedisClient): RedisClient & ActiveScript {
  const client = redis as RedisClient & Partial<ActiveScript>;
  if (typeof client.concertQueueIsActive !== "function") redis.defineCommand("concertQueueIsActive", { numberOfKeys: 2, lua: IS_ACTIVE_LUA });
  return client as RedisClient & ActiveScript;
}

/** Whether the entry of this genuine token was left by its user (DELETE /queue/me), as Redis remembers it. */
export async function tokenWasLeft(redis: RedisClient, prefix: string, secret: string, token: unknown, concertId: number): Promise<boolean> {
  const claims = verifyQueueToken(token, secret);
  if (!claims) return false;
  return (await redis.hget(queueKeys(prefix, concertId).left, claims.userId)) === claims.nonce;
}
