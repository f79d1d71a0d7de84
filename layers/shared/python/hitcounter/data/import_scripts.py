"""The Lua scripts of access-log imports (the rules every script keeps, and ``script``, are in
``hitcounter.data.scripts``)."""

from __future__ import annotations

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
