"""Every Lua script the stores run, with the rules they keep.

* A write is one command or one script, sent once. No write rides in a pipeline: redis-py's
  ``ClusterPipeline`` re-sends its commands after a ConnectionError or TimeoutError whatever
  the client's ``Retry`` says. Pipelines carry reads only (the sharded total).
* Every script that writes starts with a ``#!lua`` shebang and no ``allow-oom`` flag: Redis 7
  then refuses it before it runs when memory is over ``maxmemory`` (an undeclared script
  whose first command is one Redis allows under OOM, such as EXPIRE, may then go on to
  write), and refuses it on a replica (READONLY) instead of failing half-way.
* Multi-key scripts touch keys under one hash tag, so they work on cluster mode and
  ElastiCache Serverless.

Each script's comment says its KEYS and ARGV. ``script`` wraps one for EVALSHA.
"""

from __future__ import annotations

from redis.commands.core import Script

from hitcounter.model import history


def script(source: str) -> Script:
    """A script run by EVALSHA on whichever client it is given; its sha is computed here, with
    no client and no I/O. redis-py loads it on NOSCRIPT (the script did not run then, so that
    second send is not a re-send of a write)."""
    text = source.strip()
    assert text.startswith("#!lua"), "a script that writes declares its flags"
    return Script(None, text.encode())  # type: ignore[arg-type]


# One counted hit, in one server-side step: dedupe (with an Idempotency-Key), count, and add
# the hit to its minute, hour and day buckets and its visitor to the day's HyperLogLog, salted
# with the day's salt (made by the day's first hit from the fresh one the caller sends). Every
# key is under the counter shard's hash tag. A replay returns the N the first request got
# and adds nothing. The TTLs never change, so they live in the text: a call carries only
# what the hit brings (fewer arguments to encode in the client and to enter Lua with).
#   KEYS: counter, record, minute, hour, day, uniques, salt
#   ARGV: record TTL ("0": no Idempotency-Key), "n" to record the count or "0" a placeholder
#         (sharded: the caller records the total), a fresh salt (used only if the day has
#         none), the visitor's digest ("" for none)
COUNT_HIT = f"""
#!lua
local keyed = ARGV[1] ~= '0'
if keyed then
  local seen = redis.call('GET', KEYS[2])
  if seen then return {{tonumber(seen), 1}} end
end
local n = redis.call('INCR', KEYS[1])
if keyed then
  local value = 0
  if ARGV[2] == 'n' then value = n end
  redis.call('SET', KEYS[2], value, 'EX', ARGV[1])
end
redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], {history.MINUTE_TTL})
redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], {history.HOUR_TTL})
redis.call('INCR', KEYS[5])
redis.call('EXPIRE', KEYS[5], {history.DAY_TTL})
if ARGV[4] ~= '' then
  local salt = redis.call('GET', KEYS[7])
  if not salt then
    salt = ARGV[3]
    redis.call('SET', KEYS[7], salt, 'EX', {history.SALT_TTL})
  end
  redis.call('PFADD', KEYS[6], redis.sha1hex(salt .. ARGV[4]))
  redis.call('EXPIRE', KEYS[6], {history.DAY_TTL})
end
return {{n, 0}}
"""


# The unique visitors of a period's closed days (every day but today), merged once per day
# per period and kept until the next: a multi-key PFCOUNT merges every HyperLogLog it names
# on Redis's one thread on every call and cannot cache the result (365 dense days: 10-18 ms
# of server CPU per read). With this, a read merges two: the closed days' union and today.
# Idempotent (a re-send merges the same days again), so it may be retried or raced; an
# import that adds visitors to a past day deletes the unions (``COMMIT_IMPORT``).
#   KEYS: the union, then the closed days' HyperLogLogs   ARGV: the union's TTL
PERIOD_UNION = """
#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('PFMERGE', KEYS[1], unpack(KEYS, 2))
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return 1
"""


# EXPIRE answers 0 for a missing (or expired) key: the existence check and the TTL slide
# are one command, and the script keeps the visit, the slide and the read in one round trip.
VISIT = """
#!lua
if redis.call('EXPIRE', KEYS[1], ARGV[1]) == 0 then return false end
local visits = redis.call('HINCRBY', KEYS[1], 'visits', 1)
return {visits, redis.call('HGET', KEYS[1], 'data')}
"""
CREATE = """
#!lua
redis.call('HSET', KEYS[1], 'visits', 0, 'data', '{}')
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""
REPLACE = """
#!lua
if redis.call('EXPIRE', KEYS[1], ARGV[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'data', ARGV[2])
return redis.call('HGET', KEYS[1], 'visits')
"""


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

# The top pages of a slot over a period's closed days, summed once a day and kept until the
# next (as PERIOD_UNION does for visitors): a read then sums two sorted sets per slot, the
# closed days' and today's, whatever the period. Idempotent, so it may be retried or raced.
# A slot with no page in those days gets a placeholder member "" (no page id is empty), so
# the union exists and readers see it made.
#   KEYS: the union, then the closed days' top indexes   ARGV: the union's TTL
TOP_UNION = """
#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZUNIONSTORE', KEYS[1], #KEYS - 1, unpack(KEYS, 2))
  if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('ZADD', KEYS[1], 0, '') end
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return 1
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


# One collection of a checked export (``hitcounter.data.snapshot_store``; a string is one SET
# with its PXAT), in one step: a list replaced whole, or members added to a set or sorted set
# (a large one over several calls), then its expiry. Each call sets what the file names, so
# running it again over what it wrote changes nothing.
#   KEYS: the key   ARGV: "list" | "add" | "zadd", the expiry (epoch ms, "" none), the items,
#         the members, or score-member pairs
RESTORE_KEY = """
#!lua
local mode = ARGV[1]
if mode == 'list' then
  redis.call('DEL', KEYS[1])
  redis.call('RPUSH', KEYS[1], unpack(ARGV, 3))
elseif mode == 'add' then
  redis.call('SADD', KEYS[1], unpack(ARGV, 3))
else
  redis.call('ZADD', KEYS[1], unpack(ARGV, 3))
end
if ARGV[2] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return 1
"""
