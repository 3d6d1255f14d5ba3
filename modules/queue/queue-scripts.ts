import type { RedisClient } from "../../mixins/redis.mixin";

/**
 * The queue's Lua scripts. Each runs atomically inside Redis, so every decision (is this user
 * already queued, who is next, is there room) sees one consistent state whatever the number of
 * nodes. Time is Redis server TIME, never a node's clock. Every script gets the keys of ONE concert
 * only (one hash tag, so one slot of a Redis Cluster); the cross-concert set queue:concerts is
 * kept by separate commands (queue-store.ts).
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
end

-- The window as the last admission round left it (rate: HASH total, oldest, at) while that is under a
-- second old, else counted afresh: an entry or a poll then reads three fields instead of scanning
-- every round of the window (600 of them at a 100 ms admission interval, most of Redis's CPU under
-- an entry flood). Off by at most a second's rounds at the window's edge: an ETA does not notice.
local function recentWindow(statsKey, rateKey, now, windowMs)
  local cached = redis.call('HMGET', rateKey, 'total', 'oldest', 'at')
  if cached[3] and now - tonumber(cached[3]) < 1000 then return tonumber(cached[1]), tonumber(cached[2]) end
  return admissionWindow(statsKey, now, windowMs)
end

local function storeWindow(rateKey, total, oldest, now, windowMs)
  redis.call('HSET', rateKey, 'total', total, 'oldest', oldest, 'at', now)
  redis.call('PEXPIRE', rateKey, windowMs * 2)
end`;

/**
 * KEYS: seq, waiting, active, tokens, stats, pre, seen, opens, rate;
 * ARGV: userId, fresh nonce, windowMs, queueOpensMs, saleOpensMs (-1 = no such time).
 * Before queueOpensMs: CLOSED, nothing written. A live entry (waiting, pre-queue, or active and not
 * expired) is returned as is; otherwise a new entry goes to the pre-queue set (before saleOpensMs,
 * by the Redis clock) or to the back of the waiting line (the next value of the per-concert
 * sequence). Entering counts as being seen (idle places, SPEC §8).
 * Returns {created, nonce, status, position, expiresAtMs, nowMs, windowAdmitted, windowOldestMs, saleOpensMs}.
 */
const ENTER = `${NOW_MS}${ADMISSION_WINDOW}
local now = nowMs()
local user = ARGV[1]
local queueOpens, saleOpens = tonumber(ARGV[4]), tonumber(ARGV[5])
if queueOpens >= 0 and now < queueOpens then return {0, '', 'CLOSED', -1, -1, now, 0, -1, saleOpens} end
local nonce = redis.call('HGET', KEYS[4], user)
local status, position, expiresAt, created = false, -1, -1, 0
if nonce then
  local exp = redis.call('ZSCORE', KEYS[3], user)
  if exp and tonumber(exp) > now then
    status, position, expiresAt = 'ACTIVE', 0, tonumber(exp)
  else
    local rank = redis.call('ZRANK', KEYS[2], user)
    if rank then status, position = 'WAITING', rank + 1
    elseif redis.call('SISMEMBER', KEYS[6], user) == 1 then status = 'PRE_QUEUE' end
  end
end
if not status then
  redis.call('ZREM', KEYS[3], user)
  nonce = ARGV[2]
  if saleOpens >= 0 and now < saleOpens then
    redis.call('SADD', KEYS[6], user)
    redis.call('SET', KEYS[8], saleOpens)
    status = 'PRE_QUEUE'
  else
    local seq = redis.call('INCR', KEYS[1])
    redis.call('ZADD', KEYS[2], seq, user)
    status, position = 'WAITING', redis.call('ZRANK', KEYS[2], user) + 1
  end
  redis.call('HSET', KEYS[4], user, nonce)
  created = 1
end
if status ~= 'ACTIVE' then redis.call('ZADD', KEYS[7], now, user) end
if saleOpens < 0 then saleOpens = tonumber(redis.call('GET', KEYS[8]) or '-1') end
local admitted, oldest = recentWindow(KEYS[5], KEYS[9], now, tonumber(ARGV[3]))
return {created, nonce, status, position, expiresAt, now, admitted, oldest, saleOpens}`;

/**
 * KEYS: waiting, active, tokens, stats, pre, seen, opens, rate; ARGV: userId, nonce, windowMs.
 * A nonce that is not the user's current one (left, expired, paid, idle, superseded) is EXPIRED.
 * The only write: a waiting or pre-queue user's poll refreshes their last-seen time.
 * Returns {status, position, expiresAtMs, nowMs, windowAdmitted, windowOldestMs, saleOpensMs}.
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
    if rank then status, position = 'WAITING', rank + 1
    elseif redis.call('SISMEMBER', KEYS[5], user) == 1 then status = 'PRE_QUEUE' end
  end
end
if status == 'WAITING' or status == 'PRE_QUEUE' then redis.call('ZADD', KEYS[6], now, user) end
local admitted, oldest = recentWindow(KEYS[4], KEYS[8], now, tonumber(ARGV[3]))
return {status, position, expiresAt, now, admitted, oldest, tonumber(redis.call('GET', KEYS[7]) or '-1')}`;

/**
 * KEYS: waiting, active, tokens, pre, seen, ver, left;
 * ARGV: userId, nonce ('' = whatever the current entry is), channel, leftTtlMs.
 * Removes the user's entry (waiting, pre-queue or active) if the nonce is the current one, and
 * tells the streams (a waiting user's place frees everyone's behind it). A removal by nonce is the
 * user leaving: remembered for leftTtlMs, so a live hold does not keep a left token usable.
 * Returns 1 if removed.
 */
const REMOVE = `
local user = ARGV[1]
local current = redis.call('HGET', KEYS[3], user)
if ARGV[2] ~= '' and current ~= ARGV[2] then return 0 end
local score = redis.call('ZSCORE', KEYS[1], user)
local removed = redis.call('ZREM', KEYS[1], user) + redis.call('ZREM', KEYS[2], user) + redis.call('SREM', KEYS[4], user)
redis.call('HDEL', KEYS[3], user)
redis.call('ZREM', KEYS[5], user)
if ARGV[2] ~= '' and current then
  redis.call('HSET', KEYS[7], user, current)
  redis.call('PEXPIRE', KEYS[7], tonumber(ARGV[4]))
end
if removed > 0 or current then
  local v = redis.call('INCR', KEYS[6])
  redis.call('PUBLISH', ARGV[3], cjson.encode({t = 'left', v = v, u = user, s = score and tonumber(score) or -1, w = score and 1 or 0}))
  return 1
end
return 0`;

/**
 * KEYS: waiting, active, tokens, stats, pre, seen, ver, rate;
 * ARGV: batch, activeMax, ttlMs, windowMs, tickId, minElapsedMs, idleMs, reapMax,
 *       admitIntervalMs, rateBatch, channel.
 * One admission round of one concert: drop expired actives (and their nonces); give back up to
 * reapMax places of waiting users not seen for idleMs (their nonce goes: EXPIRED), found through
 * the last-seen ZSET by score, so the cost is bounded whatever the queue length; then move the
 * min(batch, activeMax - active) first waiting users (lowest sequence) to active with expiry now + ttl.
 * While the pre-queue is not yet shuffled into the line nobody is admitted (late arrivals must not
 * pass it); prePending says so (the admitter then checks whether the opening is due). Records the round in stats; `empty` says
 * nobody is waiting, pre-queued or active (the caller then forgets the concert). Publishes what changed positions on `channel`.
 * A round less than minElapsedMs (> 0) after the concert's last recorded round is skipped: the
 * concert's own admission interval, decided here on the Redis clock whichever node runs it.
 * Returns {admitted, expired, waiting, active, nowMs, windowAdmitted, windowOldestMs, ran, reaped, prePending, empty}.
 */
const ADMIT = `${NOW_MS}${ADMISSION_WINDOW}
local now = nowMs()
local windowMs = tonumber(ARGV[4])
local minElapsed = tonumber(ARGV[6] or '0')
if minElapsed > 0 then
  local last = redis.call('ZRANGE', KEYS[4], -1, -1, 'WITHSCORES')
  if #last > 0 and now - tonumber(last[2]) < minElapsed then
    local total, oldest = recentWindow(KEYS[4], KEYS[8], now, windowMs)
    return {0, 0, redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), now, total, oldest, 0, 0, 0, 0}
  end
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for i = 1, #expired, 500 do
  redis.call('HDEL', KEYS[3], unpack(expired, i, math.min(i + 499, #expired)))
end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
local pending = redis.call('SCARD', KEYS[5])
local reaped = {}
local idleMs = tonumber(ARGV[7])
if pending == 0 and idleMs > 0 then
  local idle = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', '(' .. (now - idleMs), 'LIMIT', 0, tonumber(ARGV[8]))
  for _, user in ipairs(idle) do
    local score = redis.call('ZSCORE', KEYS[1], user)
    if score then
      redis.call('ZREM', KEYS[1], user)
      redis.call('HDEL', KEYS[3], user)
      reaped[#reaped + 1] = {user, tonumber(score)}
    end
    redis.call('ZREM', KEYS[6], user)
  end
end
local room = math.min(tonumber(ARGV[1]), tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[2]))
if pending > 0 then room = 0 end
local admitted, hi = 0, 0
local expiresAt = now + tonumber(ARGV[3])
if room > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[1], room)
  for i = 1, #popped, 2 do
    redis.call('ZADD', KEYS[2], expiresAt, popped[i])
    redis.call('ZREM', KEYS[6], popped[i])
    hi = tonumber(popped[i + 1])
    admitted = admitted + 1
  end
end
redis.call('ZADD', KEYS[4], now, ARGV[5] .. ':' .. admitted)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. (now - windowMs))
redis.call('PEXPIRE', KEYS[4], windowMs * 2)
local waiting = redis.call('ZCARD', KEYS[1])
local active = redis.call('ZCARD', KEYS[2])
local total, oldest = admissionWindow(KEYS[4], now, windowMs)
storeWindow(KEYS[8], total, oldest, now, windowMs)
if admitted > 0 or #reaped > 0 then
  local v = redis.call('INCR', KEYS[7])
  redis.call('PUBLISH', ARGV[11], cjson.encode({t = 'round', v = v, hi = hi, n = admitted, exp = expiresAt, now = now,
    wa = total, wo = oldest, iv = tonumber(ARGV[9]), rb = tonumber(ARGV[10]), r = reaped}))
end
local empty = (waiting == 0 and active == 0 and pending == 0) and 1 or 0
return {admitted, #expired, waiting, active, now, total, oldest, 1, #reaped, pending > 0 and 1 or 0, empty}`;

/**
 * KEYS: waiting, active, stats, pre; ARGV: windowMs. Read only: the operator's view of one queue.
 * Returns {waiting (pre-queue included), active (unexpired), admittedInWindow, nowMs}.
 */
const OVERVIEW = `${NOW_MS}${ADMISSION_WINDOW}
local now = nowMs()
local admitted = admissionWindow(KEYS[3], now, tonumber(ARGV[1]))
return {redis.call('ZCARD', KEYS[1]) + redis.call('SCARD', KEYS[4]), redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf'), admitted, now}`;

/** KEYS: waiting, active, pre. How many entries the concert has (waiting, active expired or not, pre-queued). */
const OCCUPANCY = `return redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) + redis.call('SCARD', KEYS[3])`;

/**
 * KEYS: tokens, active; ARGV: userId, nonce. 1 when the nonce is the user's current one and its
 * admission has not expired (Redis clock), else 0: the queue guard's check, one EVALSHA per guarded
 * request (the MULTI of HGET + ZSCORE + TIME it replaces was five commands and a transaction object).
 */
const IS_ACTIVE = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
local exp = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not exp then return 0 end
local t = redis.call('TIME')
if tonumber(exp) > tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) then return 1 end
return 0`;

export type ScriptArg = string | number;
export type QueueScript = (...keysThenArgs: ScriptArg[]) => Promise<unknown>;

export interface QueueScripts {
  enter: QueueScript;
  status: QueueScript;
  remove: QueueScript;
  admit: QueueScript;
  overview: QueueScript;
  occupancy: QueueScript;
  isActive: QueueScript;
}

const DEFINITIONS = {
  enter: { name: "concertQueueEnter", numberOfKeys: 9, lua: ENTER },
  status: { name: "concertQueueStatus", numberOfKeys: 8, lua: STATUS },
  remove: { name: "concertQueueRemove", numberOfKeys: 7, lua: REMOVE },
  admit: { name: "concertQueueAdmit", numberOfKeys: 8, lua: ADMIT },
  overview: { name: "concertQueueOverview", numberOfKeys: 4, lua: OVERVIEW },
  occupancy: { name: "concertQueueOccupancy", numberOfKeys: 3, lua: OCCUPANCY },
  isActive: { name: "concertQueueIsActive", numberOfKeys: 2, lua: IS_ACTIVE },
} as const;

const registered = new WeakMap<RedisClient, QueueScripts>();

/** Registers the scripts on a client once (EVALSHA with a fallback to EVAL) and returns callers for them. */
export function defineQueueScripts(redis: RedisClient): QueueScripts {
  const known = registered.get(redis);
  if (known) return known;
  const commands = redis as unknown as Record<string, QueueScript>;
  const callers = {} as QueueScripts;
  for (const [key, def] of Object.entries(DEFINITIONS) as Array<[keyof QueueScripts, (typeof DEFINITIONS)[keyof QueueScripts]]>) {
    redis.defineCommand(def.name, { numberOfKeys: def.numberOfKeys, lua: def.lua });
    callers[key] = (...args) => commands[def.name].call(redis, ...args);
  }
  registered.set(redis, callers);
  return callers;
}
