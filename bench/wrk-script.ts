/**
 * The Lua script bench/wrk.ts hands to wrk. Arguments (after `--`): mode, request file, tag,
 * thread count. The request file has one request a line, tab-separated:
 *   method, path, body ("" = none), key ("" = none), then header name, value, name, value, ...
 * Thread n takes lines n, n + threads, ... (setup() numbers the threads before init() runs); each
 * thread needs at least one line.
 * Modes:
 *   cycle     the thread's requests in a loop for wrk's duration
 *   once      each request exactly once; when all are answered the thread prints WRK_THREAD_DONE
 *             and idle connections are parked (an empty write: nothing sent, nothing recorded)
 *   hold-pay  each line a hold (POST /api/reservations); a 201 queues the payment of that
 *             reservation (POST /api/payments, the line's headers + an Idempotency-Key), found by
 *             the held seat id = the line's key; done when every hold and payment is answered
 * done() prints one line `WRK_JSON {...}`: summary, latency percentiles (µs), statuses, errors by
 * "<status> <type>", holds and payments answered 201, summed over the threads.
 */
export const WRK_SCRIPT = String.raw`
local threads, counter = {}, 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local function split(line)
  local fields, from = {}, 1
  while true do
    local at = string.find(line, "\t", from, true)
    if not at then
      fields[#fields + 1] = string.sub(line, from)
      return fields
    end
    fields[#fields + 1] = string.sub(line, from, at - 1)
    from = at + 1
  end
end

local mode, tag = "cycle", ""
local reqs, byKey, pending = {}, {}, {}
local nextReq, head, tail, sent, answered, finished, verified = 1, 1, 0, 0, 0, false, false
statuses, errors, held, paid = {}, {}, 0, 0

local function report_done()
  if mode ~= "cycle" and not finished and nextReq > #reqs and head > tail and answered == sent then
    finished = true
    io.write("WRK_THREAD_DONE\n")
    io.flush()
  end
end

function init(args)
  mode, tag = args[1], args[3]
  local nthreads, n = tonumber(args[4]), 0
  for line in io.lines(args[2]) do
    if n % nthreads == id then
      local f = split(line)
      local headers = {}
      for i = 5, #f - 1, 2 do headers[f[i]] = f[i + 1] end
      reqs[#reqs + 1] = wrk.format(f[1], f[2], headers, f[3] ~= "" and f[3] or nil)
      if f[4] ~= "" then byKey[f[4]] = headers end
    end
    n = n + 1
  end
  report_done()
end

function request()
  -- wrk calls thread 0's request() once before the run to count pipelined requests: not sent.
  if not verified then
    verified = true
    if id == 0 then return reqs[1] end
  end
  if head <= tail then
    local r = pending[head]
    pending[head] = nil
    head = head + 1
    sent = sent + 1
    return r
  end
  if mode == "cycle" then
    local r = reqs[nextReq]
    nextReq = nextReq % #reqs + 1
    return r
  end
  if nextReq <= #reqs then
    local r = reqs[nextReq]
    nextReq = nextReq + 1
    sent = sent + 1
    return r
  end
  return ""
end

function response(status, headers, body)
  answered = answered + 1
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 400 then
    local key = status .. " " .. (string.match(body or "", '"type":"([%w_%.%-]+)"') or "")
    errors[key] = (errors[key] or 0) + 1
  elseif status == 201 and mode == "hold-pay" then
    if string.find(body, '"reservationId":', 1, true) then
      paid = paid + 1
    else
      local rid = string.match(body, '^{"id":(%d+)')
      local seat = string.match(body, '"seats":%[{"id":(%d+)')
      local h = seat and byKey[seat]
      if rid and h then
        held = held + 1
        h["Idempotency-Key"] = "bench-pay-" .. tag .. "-" .. rid
        tail = tail + 1
        pending[tail] = wrk.format("POST", "/api/payments", h, '{"reservationId":' .. rid .. '}')
      end
    end
  end
  report_done()
end

local function object(t)
  local parts = {}
  for k, v in pairs(t) do parts[#parts + 1] = string.format('"%s":%d', tostring(k), v) end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local st, er, h, p = {}, {}, 0, 0
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do st[k] = (st[k] or 0) + v end
    for k, v in pairs(t:get("errors")) do er[k] = (er[k] or 0) + v end
    h = h + t:get("held")
    p = p + t:get("paid")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"durationUs":%d,"requests":%d,"bytes":%d,' ..
    '"socketErrors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"non2xx":%d,' ..
    '"latencyUs":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p95":%d,"p99":%d,"p999":%d},' ..
    '"statuses":%s,"errors":%s,"held":%d,"paid":%d}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.timeout, e.status,
    latency.min, latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency:percentile(99.9), object(st), object(er), h, p))
end
`;
