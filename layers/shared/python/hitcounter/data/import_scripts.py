"""The Lua scripts of access-log imports (the rules every script keeps, and ``script``, are in
``hitcounter.data.scripts``)."""

from __future__ import annotations

from hitcounter.model import referrers

# An import adds its count and stores its summary in one step, keyed by the object's key and
# ETag, on the counter's {hits} slot: a second import of the same object (also one running
# at the same time) finds the summary and adds nothing.
# The same step adds the log's hits to the minute, hour and day buckets of each line's own time
# (ARGV: bucket count, then increment and TTL per bucket key) and merges the visitors staged
# per day (hitcounter.data.import_store.ImportStore.stage_visitors) into that day's HyperLogLog.
# A duplicate (content another import already counted) merges no visitors: its staging keys
# are only deleted. The summary expires with the history it added to (the day buckets').
# Visitors merged into past days make the periods' cached unions (``PERIOD_UNION``) stale:
# the step deletes them, and the next read merges them again.
#   KEYS: counter, summary, state, recent imports, bucket keys…, then (day HLL, staging) pairs,
#         then the period unions to delete
#   ARGV: counted, summary, recent entry, bucket count, (increment, TTL)…, day TTL, summary TTL,
#         "1" to merge the staged visitors or "0" to drop them, the number of (day, staging) pairs
COMMIT_IMPORT = """
#!lua
local existing = redis.call('GET', KEYS[2])
if existing then return {existing, 0} end
local buckets = tonumber(ARGV[4])
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[6 + 2 * buckets])
redis.call('DEL', KEYS[3])
redis.call('LPUSH', KEYS[4], ARGV[3])
redis.call('LTRIM', KEYS[4], 0, 9)
for i = 1, buckets do
  local key = KEYS[4 + i]
  redis.call('INCRBY', key, ARGV[3 + 2 * i])
  redis.call('EXPIRE', key, ARGV[4 + 2 * i])
end
local day_ttl = ARGV[5 + 2 * buckets]
local merge = ARGV[7 + 2 * buckets] == '1'
local last_pair = 4 + buckets + 2 * tonumber(ARGV[8 + 2 * buckets])
for i = 5 + buckets, last_pair, 2 do
  if merge then
    redis.call('PFMERGE', KEYS[i], KEYS[i], KEYS[i + 1])
    redis.call('EXPIRE', KEYS[i], day_ttl)
  end
  redis.call('DEL', KEYS[i + 1])
end
for i = last_pair + 1, #KEYS do redis.call('DEL', KEYS[i]) end
return {ARGV[2], 1}
"""

# Stage a batch of an import's visitors for one day, salted with that day's salt (made if the
# day has none): PFADD only, so a retried batch adds nothing new. The staging key expires on
# its own if the import never commits.
#   KEYS: the day's salt, the staging HyperLogLog   ARGV: a fresh salt, salt TTL, staging TTL, digests…
STAGE_VISITORS = """
#!lua
local salt = redis.call('GET', KEYS[1])
if not salt then
  salt = ARGV[1]
  redis.call('SET', KEYS[1], salt, 'EX', ARGV[2])
end
local ids = {}
for i = 4, #ARGV do ids[#ids + 1] = redis.sha1hex(salt .. ARGV[i]) end
redis.call('PFADD', KEYS[2], unpack(ids))
redis.call('EXPIRE', KEYS[2], ARGV[3])
return #ids
"""


# Admit one more import today, up to a cap: the day's tally expires with the day (+1 h).
#   KEYS: the day's tally   ARGV: the cap, the tally's TTL
ADMIT_IMPORT = """
#!lua
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then return 0 end
return 1
"""


# Another counter's numbers for the pages of one slot (``hitcounter.data.page_imports``), one
# chunk of pages in one step: each page's total, path, buckets, referring hosts, its place in
# the top pages of its days, and the slot's tallies (every page together). A chunk runs once:
# the slot's marker holds how many of the import's chunks it applied (and what they wrote), set
# in the same step, so a retried import (Lambda retries a failed event) skips what it wrote
# before and still reports the whole. A page new to
# the slot past its share of PAGES_MAX (after idle pages go) is refused, and its operations
# with it. Operations arrive as JSON (``cjson``, which Redis's Lua has) naming keys by their
# index in KEYS:
#   {"page", page id, count index, path index, path or "", total}: starts a page's operations;
#   {"incr", key index, n, ttl}: INCRBY, then the TTL unless the key already lives longer;
#   {"zincr", key index, member, n, ttl}: ZINCRBY, the same;
#   {"refs", key index, {host: n…}, ttl}: a day's referring hosts merged, then trimmed to
#       HOSTS_PER_DAY, the least referred going to OTHER (the hit script's rule);
#   {"del", key index}: a period's union made before the import, made again by the next read.
#   KEYS: the slot's marker for this import (a hash: chunks applied, pages refused, hits
#         written), the registry, the slot's pages' hits, then the keys the operations name
#   ARGV: the chunk's number, the marker's TTL, the slot's page cap, the time (ms),
#         PAGE_IDLE_DAYS in seconds, the operations
#   returns {pages refused, hits written} in this slot so far, this import's runs together
APPLY_PAGE_IMPORT = f"""
#!lua
local chunk = tonumber(ARGV[1])
if chunk < tonumber(redis.call('HGET', KEYS[1], 'chunks') or '0') then
  local before = redis.call('HMGET', KEYS[1], 'refused', 'written')
  return {{tonumber(before[1] or '0'), tonumber(before[2] or '0')}}
end
local cap, now, idle = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local function keep(key, ttl)
  if ttl > 0 and redis.call('TTL', key) < ttl then redis.call('EXPIRE', key, ttl) end
end
local skip, refused, written = false, 0, 0
for _, op in ipairs(cjson.decode(ARGV[6])) do
  local kind = op[1]
  if kind == 'page' then
    skip = false
    if not redis.call('ZSCORE', KEYS[2], op[2]) and redis.call('ZCARD', KEYS[2]) >= cap then
      redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - idle * 1000)
      if redis.call('ZCARD', KEYS[2]) >= cap then skip, refused = true, refused + 1 end
    end
    if not skip then
      redis.call('ZADD', KEYS[2], 'GT', now, op[2])
      redis.call('INCRBY', KEYS[op[3]], op[6])
      keep(KEYS[op[3]], idle)
      if op[5] ~= '' then redis.call('SET', KEYS[op[4]], op[5], 'EX', idle) end
      redis.call('INCRBY', KEYS[3], op[6])
      written = written + op[6]
    end
  elseif kind == 'del' then
    redis.call('DEL', KEYS[op[2]])
  elseif not skip then
    local key = KEYS[op[2]]
    if kind == 'incr' then
      redis.call('INCRBY', key, op[3])
      keep(key, op[4])
    elseif kind == 'zincr' then
      redis.call('ZINCRBY', key, op[4], op[3])
      keep(key, op[5])
    elseif kind == 'refs' then
      for host, n in pairs(op[3]) do redis.call('ZINCRBY', key, n, host) end
      local other = redis.call('ZSCORE', key, '{referrers.OTHER}')
      local excess = redis.call('ZCARD', key) - (other and 1 or 0) - {referrers.HOSTS_PER_DAY}
      if excess > 0 then
        local moved = 0
        for i, entry in ipairs(redis.call('ZRANGE', key, 0, excess, 'WITHSCORES')) do
          if i % 2 == 1 and entry ~= '{referrers.OTHER}' and excess > 0 then
            local hits = redis.call('ZSCORE', key, entry)
            redis.call('ZREM', key, entry)
            moved, excess = moved + tonumber(hits), excess - 1
          end
        end
        redis.call('ZINCRBY', key, moved, '{referrers.OTHER}')
      end
      keep(key, op[4])
    end
  end
end
redis.call('HSET', KEYS[1], 'chunks', chunk + 1)
refused = redis.call('HINCRBY', KEYS[1], 'refused', refused)
written = redis.call('HINCRBY', KEYS[1], 'written', written)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {{refused, written}}
"""
