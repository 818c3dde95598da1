"""The Lua scripts: each runs atomically on the server, on the server's clock.

Every process of an app reads and writes the same windows in one step, so no two
processes can both see room for the last slot (no read-modify-write race), and no
process's clock matters. Scores are server seconds (``TIME``); members of the weighted
recipients window end in ``:<weight>``. A member's score is when its call's answer
arrived (``COMPLETE``), or its deadline while the call is in flight (counted as now).
"""

from __future__ import annotations

# Shared by the reservation and the put-back: a window member's score is the moment its
# call's answer arrived, or, while the call is in flight, its deadline (grant + TTL): an
# in-flight call counts as "now" until it completes or its deadline passes (a process
# killed mid-call frees its slots one TTL later).
WINDOWS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000

local function counted(key, span, limit)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  local excess = redis.call('ZCARD', key) + 1 - limit
  if excess <= 0 then return 0 end
  local oldest = redis.call('ZRANGE', key, excess - 1, excess - 1, 'WITHSCORES')
  return math.min(tonumber(oldest[2]), now) + span - now
end

local function weight_of(item) return tonumber(string.match(item, ':(%d+)$')) end

-- total_key keeps the window's total, so a grant costs O(log n), not a scan of the window.
local function total_of(key, total_key, span, ttl)
  local gone = redis.call('ZRANGEBYSCORE', key, '-inf', now - span)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  local total = tonumber(redis.call('GET', total_key))
  if total then
    for i = 1, #gone do total = total - weight_of(gone[i]) end
  else  -- lost (evicted, or put back): count the window again
    total = 0
    for _, item in ipairs(redis.call('ZRANGE', key, 0, -1)) do total = total + weight_of(item) end
  end
  redis.call('SET', total_key, total, 'PX', math.ceil((span + ttl) * 1000) + 1000)
  return total
end

local function weighed(key, total, weight, span, limit)
  local excess = total + weight - limit
  if excess <= 0 then return 0 end
  local freed, oldest = 0, 0
  while true do
    local items = redis.call('ZRANGE', key, oldest, oldest + 99, 'WITHSCORES')
    if #items == 0 then return span end
    for i = 1, #items, 2 do
      freed = freed + weight_of(items[i])
      if freed >= excess then return math.min(tonumber(items[i + 1]), now) + span - now end
    end
    oldest = oldest + 100
  end
end

local function keep(key, span, ttl)
  redis.call('PEXPIRE', key, math.ceil((span + ttl) * 1000) + 1000)
end
"""

# KEYS: per-API second window, per-API minute window, per-app recipients window,
#       per-API penalty, per-app penalty, the recipients window's total, the epoch,
#       the per-API time of the latest grant.
# ARGV: 1 qps limit, 2 calls-per-minute limit, 3 recipients-per-minute limit (each already
#       reduced for a bulk call), 4 second span, 5 minute span, 6 recipients of this call,
#       7 a unique member, 8 the least gap between two calls of the API (a second's calls
#       spread over half a second), 9 the in-flight TTL, 10 the epoch this process has seen
#       ('' if none), 11 a new epoch id in case the namespace has none, 12 the horizon:
#       the longest delay a grant may carry (less than any window's span).
# Returns {0, total, epoch, delay} when granted (recorded as in flight from now; the call
# goes out after ``delay`` microseconds), {microseconds to wait, total, epoch, 0} when not,
# and {-1, 0, epoch or '', 0} when the epoch this process has seen is gone: it must put
# back what it sent before it reserves again.
#
# A delayed grant is one round trip instead of a wait and a second ask. It is exact: a
# wait within the horizon is set by completed calls (their expiry is known) or by a
# closure, never by a call in flight (which holds its slot at least a span), and the new
# member counts from now, earlier than the call can arrive.
RESERVE = WINDOWS + """
local epoch = redis.call('GET', KEYS[7])
local seen = ARGV[10]
if not epoch then
  if seen ~= '' then return {-1, 0, '', 0} end
  epoch = ARGV[11]  -- first use of the namespace, or a process that never saw one
  redis.call('SET', KEYS[7], epoch)
elseif seen ~= '' and epoch ~= seen then
  return {-1, 0, epoch, 0}
end
local second_span, minute_span = tonumber(ARGV[4]), tonumber(ARGV[5])
local weight, member, ttl = tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[9])

local wait = 0
for i = 4, 5 do
  local closed = tonumber(redis.call('GET', KEYS[i]) or '0') - now
  if closed > wait then wait = closed end
end
wait = math.max(wait, counted(KEYS[1], second_span, tonumber(ARGV[1])),
                counted(KEYS[2], minute_span, tonumber(ARGV[2])))
local newest = tonumber(redis.call('GET', KEYS[8]) or '-1e300')
wait = math.max(wait, newest + tonumber(ARGV[8]) - now)
local total = 0
if weight > 0 then
  total = total_of(KEYS[3], KEYS[6], minute_span, ttl)
  wait = math.max(wait, weighed(KEYS[3], total, weight, minute_span, tonumber(ARGV[3])))
else
  total = tonumber(redis.call('GET', KEYS[6]) or '0')
end
if wait > tonumber(ARGV[12]) then return {math.ceil(wait * 1000000), total, epoch, 0} end

local start = now + math.max(0, wait)
local deadline = start + ttl
redis.call('ZADD', KEYS[1], deadline, member)
keep(KEYS[1], second_span, ttl)
redis.call('ZADD', KEYS[2], deadline, member)
keep(KEYS[2], minute_span, ttl)
redis.call('SET', KEYS[8], string.format('%.6f', start), 'PX',
           math.ceil(second_span * 1000) + 2000)
if weight > 0 then
  redis.call('ZADD', KEYS[3], deadline, member .. ':' .. weight)
  keep(KEYS[3], minute_span, ttl)
  total = redis.call('INCRBY', KEYS[6], weight)
  keep(KEYS[6], minute_span, ttl)
end
return {0, total, epoch, math.ceil(math.max(0, wait) * 1000000)}
"""

# KEYS: per completion, its second, minute and recipients windows.
# ARGV: per completion, its member, its recipients, and the seconds between its answer
# and this flush (on the caller's clock: the server's now minus them is still no earlier
# than the answer). Moves each member still in its windows to its completion time.
COMPLETE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for i = 0, #KEYS / 3 - 1 do
  local member, weight = ARGV[3 * i + 1], tonumber(ARGV[3 * i + 2])
  local at = now - math.max(0, tonumber(ARGV[3 * i + 3]))
  redis.call('ZADD', KEYS[3 * i + 1], 'XX', at, member)
  redis.call('ZADD', KEYS[3 * i + 2], 'XX', at, member)
  if weight > 0 then redis.call('ZADD', KEYS[3 * i + 3], 'XX', at, member .. ':' .. weight) end
end
return #KEYS / 3
"""

# KEYS: 1 the epoch, 2 the per-app penalty, 3 the recipients window, 4 its total, then per
#       call put back, its second and minute windows.
# ARGV: 1 the epoch this process saw, 2 a new epoch id, 3 the grace (seconds) before anyone
#       is granted on a new epoch, 4 the longest span, 5 the in-flight TTL, then per call,
#       its member, its recipients and the seconds since its answer ('' while in flight).
# When the seen epoch is still there nothing was lost; when none is, this process starts a
# new one and closes every API for the grace, so the others notice and put theirs back
# first. Returns the epoch now current.
RESTORE = WINDOWS + """
local epoch = redis.call('GET', KEYS[1])
if epoch == ARGV[1] then return epoch end
local span, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
if not epoch then
  epoch = ARGV[2]
  redis.call('SET', KEYS[1], epoch)
  local untl = now + tonumber(ARGV[3])
  if untl > tonumber(redis.call('GET', KEYS[2]) or '0') then
    redis.call('SET', KEYS[2], string.format('%.6f', untl),
               'PX', math.ceil(tonumber(ARGV[3]) * 1000) + 1000)
  end
end
for i = 0, (#KEYS - 4) / 2 - 1 do
  local member, weight, age = ARGV[3 * i + 6], tonumber(ARGV[3 * i + 7]), ARGV[3 * i + 8]
  local score = now + ttl
  if age ~= '' then score = now - tonumber(age) end
  for k = 5 + 2 * i, 6 + 2 * i do
    redis.call('ZADD', KEYS[k], 'NX', score, member)
    keep(KEYS[k], span, ttl)
  end
  if weight > 0 then
    redis.call('ZADD', KEYS[3], 'NX', score, member .. ':' .. weight)
    keep(KEYS[3], span, ttl)
  end
end
redis.call('DEL', KEYS[4])  -- the next reservation counts the window again
return epoch
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
