"""The Lua scripts: each runs atomically on the server, on the server's clock.

Every process of an app reads and writes the same windows in one step, so no two
processes can both see room for the last slot (no read-modify-write race), and no
process's clock matters. Scores are server seconds (``TIME``); members of the weighted
recipients window end in ``:<weight>``.
"""

from __future__ import annotations

# KEYS: per-API second window, per-API minute window, per-app recipients window,
#       per-API penalty, per-app penalty, the recipients window's total.
# ARGV: qps limit, calls-per-minute limit, recipients-per-minute limit, second span,
#       minute span, recipients of this call, a unique member, the least gap between two
#       calls of the API (a second's calls spread over half a second, not sent in one
#       burst that DingTalk would receive spread out by queueing and count in two windows;
#       the other half absorbs the lag of processes that were slow to ask again).
# Returns 0 when granted (and recorded), else the microseconds to wait before asking again.
RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local second_span, minute_span = tonumber(ARGV[4]), tonumber(ARGV[5])
local weight, member = tonumber(ARGV[6]), ARGV[7]

local function counted(key, span, limit)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  local excess = redis.call('ZCARD', key) + 1 - limit
  if excess <= 0 then return 0 end
  local oldest = redis.call('ZRANGE', key, excess - 1, excess - 1, 'WITHSCORES')
  return tonumber(oldest[2]) + span - now
end

local function weight_of(item) return tonumber(string.match(item, ':(%d+)$')) end

-- KEYS[6] keeps the window's total, so a grant costs O(log n), not a scan of the window.
local function weighed(key, total_key, span, limit)
  local gone = redis.call('ZRANGEBYSCORE', key, '-inf', now - span)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  local total = tonumber(redis.call('GET', total_key))
  if total then
    for i = 1, #gone do total = total - weight_of(gone[i]) end
  else  -- lost (evicted): count the window again
    total = 0
    for _, item in ipairs(redis.call('ZRANGE', key, 0, -1)) do total = total + weight_of(item) end
  end
  redis.call('SET', total_key, total, 'PX', math.ceil(span * 1000) + 1000)
  local excess = total + weight - limit
  if excess <= 0 then return 0 end
  local freed, oldest = 0, 0
  while true do
    local items = redis.call('ZRANGE', key, oldest, oldest + 99, 'WITHSCORES')
    if #items == 0 then return span end
    for i = 1, #items, 2 do
      freed = freed + weight_of(items[i])
      if freed >= excess then return tonumber(items[i + 1]) + span - now end
    end
    oldest = oldest + 100
  end
end

local wait = 0
for i = 4, 5 do
  local closed = tonumber(redis.call('GET', KEYS[i]) or '0') - now
  if closed > wait then wait = closed end
end
wait = math.max(wait, counted(KEYS[1], second_span, tonumber(ARGV[1])),
                counted(KEYS[2], minute_span, tonumber(ARGV[2])))
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if newest[2] then wait = math.max(wait, tonumber(newest[2]) + tonumber(ARGV[8]) - now) end
if weight > 0 then
  wait = math.max(wait, weighed(KEYS[3], KEYS[6], minute_span, tonumber(ARGV[3])))
end
if wait > 0 then return math.ceil(wait * 1000000) end

redis.call('ZADD', KEYS[1], now, member)
redis.call('PEXPIRE', KEYS[1], math.ceil(second_span * 1000) + 1000)
redis.call('ZADD', KEYS[2], now, member)
redis.call('PEXPIRE', KEYS[2], math.ceil(minute_span * 1000) + 1000)
if weight > 0 then
  redis.call('ZADD', KEYS[3], now, member .. ':' .. weight)
  redis.call('PEXPIRE', KEYS[3], math.ceil(minute_span * 1000) + 1000)
  redis.call('INCRBY', KEYS[6], weight)
  redis.call('PEXPIRE', KEYS[6], math.ceil(minute_span * 1000) + 1000)
end
return 0
"""

# KEYS: a penalty key. ARGV: seconds to close for. Extends, never shortens, a closure.
PENALIZE = """
local t = redis.call('TIME')
local untl = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
if untl > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], string.format('%.6f', untl),
             'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return 0
"""

# KEYS: the lock. ARGV: owner token, expiry in ms. Returns -1 when taken, else the ms left.
LOCK = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return -1 end
local left = redis.call('PTTL', KEYS[1])
if left < 1 then return tonumber(ARGV[2]) end
return left
"""

# KEYS: the lock. ARGV: owner token. Deletes the lock only if this owner still holds it.
UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
