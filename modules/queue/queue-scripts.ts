import type Redis from "ioredis";

/**
 * The queue's Lua scripts. Each runs atomically inside Redis, so every decision (is this user
 * already queued, who is next, is there room) sees one consistent state whatever the number of
 * nodes. Time is Redis server TIME, never a node's clock.
 */

// Shared helpers, prepended to the scripts that need them.
const NOW_MS = `
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end`;

// Admissions recorded in the stats ZSET since now - windowMs: total admitted and the oldest tick.
const ADMISSION_WINDOW = `
local function admissionWindow(key, now, windowMs)
  local rows = redis.call('ZRANGEBYSCORE', key, now - windowMs, '+inf', 'WITHSCORES')
  local total, oldest = 0, -1
  for i = 1, #rows, 2 do
    total = total + tonumber(string.match(rows[i], ':(%d+)$'))
    if oldest < 0 then oldest = tonumber(rows[i + 1]) end
  end
  return total, oldest
end`;

/**
 * KEYS: seq, waiting, active, tokens, concerts, stats; ARGV: userId, fresh nonce, concertId, windowMs.
 * A live entry (waiting, or active and not expired) is returned as is; otherwise a new entry goes to
 * the back: its place is the next value of the per-concert sequence.
 * Returns {created, nonce, status, position, expiresAtMs, nowMs, windowAdmitted, windowOldestMs}.
 */
const ENTER = `${NOW_MS}${ADMISSION_WINDOW}
local now = nowMs()
local user = ARGV[1]
local nonce = redis.call('HGET', KEYS[4], user)
local status, position, expiresAt, created = false, -1, -1, 0
if nonce then
  local exp = redis.call('ZSCORE', KEYS[3], user)
  if exp and tonumber(exp) > now then
    status, position, expiresAt = 'ACTIVE', 0, tonumber(exp)
  else
    local rank = redis.call('ZRANK', KEYS[2], user)
    if rank then status, position = 'WAITING', rank + 1 end
  end
end
if not status then
  redis.call('ZREM', KEYS[3], user)
  nonce = ARGV[2]
  local seq = redis.call('INCR', KEYS[1])
  redis.call('ZADD', KEYS[2], seq, user)
  redis.call('HSET', KEYS[4], user, nonce)
  redis.call('SADD', KEYS[5], ARGV[3])
  status, position, created = 'WAITING', redis.call('ZRANK', KEYS[2], user) + 1, 1
end
local admitted, oldest = admissionWindow(KEYS[6], now, tonumber(ARGV[4]))
return {created, nonce, status, position, expiresAt, now, admitted, oldest}`;

/**
 * KEYS: waiting, active, tokens, stats; ARGV: userId, nonce, windowMs. Read only.
 * A nonce that is not the user's current one (left, expired, paid, superseded) is EXPIRED.
 * Returns {status, position, expiresAtMs, nowMs, windowAdmitted, windowOldestMs}.
 */
const STATUS = `${NOW_MS}${ADMISSION_WINDOW}
local now = nowMs()
local user = ARGV[1]
local status, position, expiresAt = 'EXPIRED', -1, -1
if redis.call('HGET', KEYS[3], user) == ARGV[2] then
  local exp = redis.call('ZSCORE', KEYS[2], user)
  if exp and tonumber(exp) > now then
    status, position, expiresAt = 'ACTIVE', 0, tonumber(exp)
  else
    local rank = redis.call('ZRANK', KEYS[1], user)
    if rank then status, position = 'WAITING', rank + 1 end
  end
end
local admitted, oldest = admissionWindow(KEYS[4], now, tonumber(ARGV[3]))
return {status, position, expiresAt, now, admitted, oldest}`;

/**
 * KEYS: waiting, active, tokens; ARGV: userId, nonce ('' = whatever the current entry is).
 * Removes the user's entry (waiting or active) if the nonce is the current one. Returns 1 if removed.
 */
const REMOVE = `
local current = redis.call('HGET', KEYS[3], ARGV[1])
if ARGV[2] ~= '' and current ~= ARGV[2] then return 0 end
local removed = redis.call('ZREM', KEYS[1], ARGV[1]) + redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if removed > 0 or current then return 1 end
return 0`;

/**
 * KEYS: waiting, active, tokens, stats, concerts; ARGV: batch, activeMax, ttlMs, concertId, windowMs, tickId.
 * One admission round of one concert: drop expired actives (and their nonces), then move the
 * min(batch, activeMax - active) first waiting users (lowest sequence) to active with expiry now + ttl.
 * Records the round in stats; forgets the concert once nobody is waiting or active.
 * Returns {admitted, expired, waiting, active, nowMs, windowAdmitted, windowOldestMs}.
 */
const ADMIT = `${NOW_MS}${ADMISSION_WINDOW}
local now = nowMs()
local windowMs = tonumber(ARGV[5])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for i = 1, #expired, 500 do
  redis.call('HDEL', KEYS[3], unpack(expired, i, math.min(i + 499, #expired)))
end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
local room = math.min(tonumber(ARGV[1]), tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[2]))
local admitted = 0
if room > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[1], room)
  local expiresAt = now + tonumber(ARGV[3])
  for i = 1, #popped, 2 do
    redis.call('ZADD', KEYS[2], expiresAt, popped[i])
    admitted = admitted + 1
  end
end
redis.call('ZADD', KEYS[4], now, ARGV[6] .. ':' .. admitted)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. (now - windowMs))
redis.call('PEXPIRE', KEYS[4], windowMs * 2)
local waiting = redis.call('ZCARD', KEYS[1])
local active = redis.call('ZCARD', KEYS[2])
if waiting == 0 and active == 0 then redis.call('SREM', KEYS[5], ARGV[4]) end
local total, oldest = admissionWindow(KEYS[4], now, windowMs)
return {admitted, #expired, waiting, active, now, total, oldest}`;

export type ScriptArg = string | number;
export type QueueScript = (...keysThenArgs: ScriptArg[]) => Promise<unknown>;

export interface QueueScripts {
  enter: QueueScript;
  status: QueueScript;
  remove: QueueScript;
  admit: QueueScript;
}

const DEFINITIONS = {
  enter: { name: "concertQueueEnter", numberOfKeys: 6, lua: ENTER },
  status: { name: "concertQueueStatus", numberOfKeys: 4, lua: STATUS },
  remove: { name: "concertQueueRemove", numberOfKeys: 3, lua: REMOVE },
  admit: { name: "concertQueueAdmit", numberOfKeys: 5, lua: ADMIT },
} as const;

/** Registers the scripts on a client (EVALSHA with a fallback to EVAL) and returns callers for them. */
export function defineQueueScripts(redis: Redis): QueueScripts {
  const commands = redis as unknown as Record<string, QueueScript>;
  const callers = {} as QueueScripts;
  for (const [key, def] of Object.entries(DEFINITIONS) as Array<[keyof QueueScripts, (typeof DEFINITIONS)[keyof QueueScripts]]>) {
    redis.defineCommand(def.name, { numberOfKeys: def.numberOfKeys, lua: def.lua });
    callers[key] = (...args) => commands[def.name].call(redis, ...args);
  }
  return callers;
}
