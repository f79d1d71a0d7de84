"""The Lua scripts of per-page counters (the rules every script keeps, and ``script``, are in
``hitcounter.data.scripts``)."""

from __future__ import annotations

from hitcounter.model import history

# One page hit, in one server-side step on the page's slot. In order:
#  1. a replay (an Idempotency-Key seen before) returns the N the first request got;
#  2. a bot (the caller classified it) adds to the page's bot tally of the day by its reason,
#     only for a page that counts already (bots never create pages), and counts nothing;
#  3. a reload: the same visitor on the same page within DEDUPE_SECONDS of their last counted
#     hit counts nothing (a sorted set of the page's recent visitors, by request time, trimmed
#     to the window on each counted hit, so it holds at most the window's visitors);
#  4. the per-client limit: a fixed one-minute window per salted client (IP) digest, in a
#     hash of the slot's minute, so at most RATE_LIMIT_PER_MINUTE counted hits per client;
#  5. the page's creation within the slot's share of PAGES_MAX (refused: nothing written);
#  6. the count, its minute/hour/day buckets, the visitor in the day's HyperLogLog, the page
#     in the slot's top-pages index of the day, the reload and limit records.
# Digests arrive unsalted and are stored only salted with the slot's salt of the day (made
# by the day's first hit from the fresh one the caller sends), never raw. The TTLs never
# change, so they live in the text rather than in every call's arguments.
#   KEYS: count, record, minute, hour, day, uniques, salt, registry, top of the day, recent
#         visitors, the slot's limit window of the minute, the page's bot tally of the day
#   ARGV: record TTL ("0": no Idempotency-Key), the page id, the slot's page cap, a fresh
#         salt, the visitor's digest ("" for none), "n" to record the count or "0" a
#         placeholder (a sharded page: the caller records the total), the client's digest
#         ("" for none), the request's time (ms), DEDUPE_SECONDS in ms ("0": off),
#         RATE_LIMIT_PER_MINUTE ("0": off), the bot's reason ("" for a person)
#   returns {N, outcome, created, the client's counted hits in the window}; outcome 0 counted,
#   1 replayed, 2 reload, 3 limited, 4 bot, -1 a new page refused (PAGES_MAX)
COUNT_PAGE_HIT = f"""
#!lua
local keyed = ARGV[1] ~= '0'
if keyed then
  local seen = redis.call('GET', KEYS[2])
  if seen then return {{tonumber(seen), 1, 0, 0}} end
end
local function current() return tonumber(redis.call('GET', KEYS[1]) or '0') end
if ARGV[11] ~= '' then
  if redis.call('SISMEMBER', KEYS[8], ARGV[2]) == 1 then
    redis.call('ZINCRBY', KEYS[12], 1, ARGV[11])
    redis.call('EXPIRE', KEYS[12], {history.PAGE_TTLS["uniques"]})
  end
  return {{current(), 4, 0, 0}}
end
local salt = false
local function day_salt()
  if not salt then
    salt = redis.call('GET', KEYS[7])
    if not salt then
      salt = ARGV[4]
      redis.call('SET', KEYS[7], salt, 'EX', {history.SALT_TTL})
    end
  end
  return salt
end
local now, window = tonumber(ARGV[8]), tonumber(ARGV[9])
local visitor = false
if ARGV[5] ~= '' then
  visitor = redis.sha1hex(day_salt() .. ARGV[5])
  if window > 0 then
    local last = redis.call('ZSCORE', KEYS[10], visitor)
    if last and now - tonumber(last) < window then return {{current(), 2, 0, 0}} end
  end
end
local limit, client, used = tonumber(ARGV[10]), false, 0
if limit > 0 and ARGV[7] ~= '' then
  client = redis.sha1hex(day_salt() .. ARGV[7])
  used = tonumber(redis.call('HGET', KEYS[11], client) or '0')
  if used >= limit then return {{current(), 3, 0, used}} end
end
local created = 0
if redis.call('SISMEMBER', KEYS[8], ARGV[2]) == 0 then
  if redis.call('SCARD', KEYS[8]) >= tonumber(ARGV[3]) then return {{-1, -1, 0, 0}} end
  redis.call('SADD', KEYS[8], ARGV[2])
  created = 1
end
local n = redis.call('INCR', KEYS[1])
if keyed then
  local value = 0
  if ARGV[6] == 'n' then value = n end
  redis.call('SET', KEYS[2], value, 'EX', ARGV[1])
end
redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], {history.PAGE_TTLS["minute"]})
redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], {history.PAGE_TTLS["hour"]})
redis.call('INCR', KEYS[5])
redis.call('EXPIRE', KEYS[5], {history.PAGE_TTLS["day"]})
if visitor then
  redis.call('PFADD', KEYS[6], visitor)
  redis.call('EXPIRE', KEYS[6], {history.PAGE_TTLS["uniques"]})
  if window > 0 then
    redis.call('ZADD', KEYS[10], now, visitor)
    redis.call('ZREMRANGEBYSCORE', KEYS[10], '-inf', now - window)
    redis.call('PEXPIRE', KEYS[10], window)
  end
end
if client then
  used = redis.call('HINCRBY', KEYS[11], client, 1)
  redis.call('EXPIRE', KEYS[11], 120)
end
redis.call('ZINCRBY', KEYS[9], 1, ARGV[2])
redis.call('EXPIRE', KEYS[9], {history.DAY_TTL})
return {{n, 0, created, used}}
"""


# A page's starting count (an old counter's number, carried over), once: refused when the page
# already counts, or when it is new and its slot holds its share of PAGES_MAX. INCRBY on the
# missing key sets it to N; like every page count it lives for good (PAGES_MAX bounds them).
#   KEYS: the count, the slot's registry   ARGV: the page id, the slot's page cap, N
#   returns 1 seeded, 0 the page already counts, -1 refused (PAGES_MAX)
SEED_PAGE = """
#!lua
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then
  if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then return -1 end
  redis.call('SADD', KEYS[2], ARGV[1])
end
redis.call('INCRBY', KEYS[1], ARGV[3])
return 1
"""
