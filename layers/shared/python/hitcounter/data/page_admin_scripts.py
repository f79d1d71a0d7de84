"""The Lua scripts of an operator's steps on a page (``hitcounter.data.page_admin``): its
starting count, a corrected total, a delete. Each keeps the slot's pages' hits (the
dashboard's all-pages total) in step with the page's count, in the same one step."""

from __future__ import annotations

# A page's starting count (an old counter's number, carried over), once: refused when the page
# already counts, or when it is new and its slot holds its share of PAGES_MAX (after pages
# nobody counted for PAGE_IDLE_DAYS are dropped). INCRBY on the missing key sets it to N; like
# every page count it expires after PAGE_IDLE_DAYS without a counted hit.
#   KEYS: the count, the slot's registry, the legacy registry, the slot's pages' hits
#   ARGV: the page id, the slot's page cap, N, the time (ms), PAGE_IDLE_DAYS in seconds
#   returns 1 seeded, 0 the page already counts, -1 refused (PAGES_MAX)
SEED_PAGE = """
#!lua
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local now = tonumber(ARGV[4])
if redis.call('EXISTS', KEYS[3]) == 1 then
  for _, member in ipairs(redis.call('SMEMBERS', KEYS[3])) do redis.call('ZADD', KEYS[2], now, member) end
  redis.call('DEL', KEYS[3])
end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[5]) * 1000)
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return -1 end
end
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('INCRBY', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('INCRBY', KEYS[4], ARGV[3])
return 1
"""


# A page's total corrected by its operator (``PUT …/count`` with ``"replace": true``): the count
# set to N with its expiry kept, only for a page that counts; its history and uniques are left
# as they are. One step, so a hit arriving with it counts on the old total or on N, never on a
# half. The slot's pages' hits move by the difference. A page spread over shards
# (HITS_SHARDS > 1) may have no count on its first shard: told so, the script sets it there
# with the count's expiry (PAGE_IDLE_DAYS).
#   KEYS: the count, the slot's pages' hits
#   ARGV: N, "1" when the page counts on another shard ("0": only a count here is corrected),
#         PAGE_IDLE_DAYS in seconds
#   returns the old count here ("0" for none, when told the page counts), or false for a page
#   that has none
REPLACE_COUNT = """
#!lua
local old = redis.call('GET', KEYS[1])
if not old then
  if ARGV[2] ~= '1' then return false end
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
  redis.call('INCRBY', KEYS[2], ARGV[1])
  return '0'
end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
redis.call('INCRBY', KEYS[2], tonumber(ARGV[1]) - tonumber(old))
return old
"""


# One shard's count of a spread page gone (a correction puts the whole total on the first
# shard), taken off its slot's pages' hits in the same step.
#   KEYS: the shard's count, its slot's pages' hits   returns the count taken off
TAKE_OFF_COUNT = """
#!lua
local old = redis.call('GET', KEYS[1])
if not old then return 0 end
redis.call('DEL', KEYS[1])
redis.call('DECRBY', KEYS[2], old)
return tonumber(old)
"""


# A page deleted by its operator, in one step on its slot: every key of it that exists (its
# count, buckets, uniques, bots, reload window, path, records: what the caller found and what a
# hit could be making now), its entry in the registry (its share of PAGES_MAX freed) and its
# place in the slot's top-pages indexes and running unions. A hit runs wholly before it (and is
# deleted with the rest) or wholly after (and starts the page again at 1): never a half.
#   KEYS: the count, the registry, the legacy registry, the slot's pages' hits (the count is
#         taken off them), then ARGV[2] indexes to leave (the top of each day, the running
#         unions), then the page's keys
#   ARGV: the page id, how many indexes follow the first three keys
#   returns 1 when the page existed (a count or a registry entry), else 0
DELETE_PAGE = """
#!lua
local existed = redis.call('EXISTS', KEYS[1]) == 1 or redis.call('ZSCORE', KEYS[2], ARGV[1]) ~= false
existed = existed or redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
local indexes = tonumber(ARGV[2])
for i = 5, 4 + indexes do redis.call('ZREM', KEYS[i], ARGV[1]) end
local count = redis.call('GET', KEYS[1])
if count then redis.call('DECRBY', KEYS[4], count) end
redis.call('DEL', KEYS[1])
for i = 5 + indexes, #KEYS do redis.call('DEL', KEYS[i]) end
if existed then return 1 end
return 0
"""
