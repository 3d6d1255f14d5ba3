/**
 * The streams' one read (modules/queue/stream-hub.ts): the states of many users of one concert in a
 * single script call, on the Redis clock, with the concert's event version (so events already
 * contained in the read are not applied again) and its admission window (for the ETA). With touch
 * = '1' a waiting or pre-queue user's last-seen time is refreshed: an open stream keeps its place.
 * Returns {ver, nowMs, windowAdmitted, windowOldestMs, saleOpensMs, then per user: status, position, score, expiresAtMs}.
 */
/** KEYS: waiting, active, tokens, pre, seen, ver, stats, opens; ARGV: windowMs, touch, (user, nonce)... */
export const STREAM_STATES = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rows = redis.call('ZRANGEBYSCORE', KEYS[7], now - tonumber(ARGV[1]), '+inf', 'WITHSCORES')
local admitted, oldest = 0, -1
for i = 1, #rows, 2 do
  admitted = admitted + tonumber(string.match(rows[i], ':(%d+)$'))
  if oldest < 0 then oldest = tonumber(rows[i + 1]) end
end
local out = {tonumber(redis.call('GET', KEYS[6]) or '0'), now, admitted, oldest, tonumber(redis.call('GET', KEYS[8]) or '-1')}
for i = 3, #ARGV, 2 do
  local user = ARGV[i]
  local status, position, score, exp = 'EXPIRED', -1, 0, -1
  if redis.call('HGET', KEYS[3], user) == ARGV[i + 1] then
    local e = redis.call('ZSCORE', KEYS[2], user)
    if e and tonumber(e) > now then
      status, position, exp = 'ACTIVE', 0, tonumber(e)
    else
      local s = redis.call('ZSCORE', KEYS[1], user)
      if s then
        status, position, score = 'WAITING', redis.call('ZRANK', KEYS[1], user) + 1, tonumber(s)
      elseif redis.call('SISMEMBER', KEYS[4], user) == 1 then
        status = 'PRE_QUEUE'
      end
    end
    if ARGV[2] == '1' and (status == 'WAITING' or status == 'PRE_QUEUE') then redis.call('ZADD', KEYS[5], now, user) end
  end
  out[#out + 1] = status
  out[#out + 1] = position
  out[#out + 1] = tostring(score)
  out[#out + 1] = exp
end
return out`;
