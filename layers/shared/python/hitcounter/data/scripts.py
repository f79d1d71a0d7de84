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

Each script's comment says its KEYS and ARGV. ``script`` wraps one for EVALSHA. Here: the
site's counting, the periods' unions, sessions, a restored key; the page routes' scripts
are in ``page_scripts``, the imports' in ``import_scripts``.
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
# import that adds visitors to a past day deletes the unions (``COMMIT_IMPORT``). One call
# makes several unions of one hash slot (the day's first read of a period with several
# shards, or of the 64 page slots on one Redis): groups, each a union and its sources.
#   KEYS: a union, then its closed days' HyperLogLogs; the next union, its days; …
#   ARGV: the unions' TTL, then each group's number of sources
PERIOD_UNION = """
#!lua
local k = 1
for g = 2, #ARGV do
  local n = tonumber(ARGV[g])
  if redis.call('EXISTS', KEYS[k]) == 0 then
    redis.call('PFMERGE', KEYS[k], unpack(KEYS, k + 1, k + n))
    redis.call('EXPIRE', KEYS[k], ARGV[1])
  end
  k = k + n + 1
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


# The top pages of a slot over a period's closed days, summed once a day and kept until the
# next (as PERIOD_UNION does for visitors): a read then sums two sorted sets per slot, the
# closed days' and today's, whatever the period. Idempotent, so it may be retried or raced.
# A slot with no page in those days gets a placeholder member "" (no page id is empty), so
# the union exists and readers see it made. Groups of one slot per call, as PERIOD_UNION's.
#   KEYS: a union, then its closed days' sorted sets; the next union, its days; …
#   ARGV: the unions' TTL, then each group's number of sources
TOP_UNION = """
#!lua
local k = 1
for g = 2, #ARGV do
  local n = tonumber(ARGV[g])
  if redis.call('EXISTS', KEYS[k]) == 0 then
    if n > 0 then redis.call('ZUNIONSTORE', KEYS[k], n, unpack(KEYS, k + 1, k + n)) end
    if redis.call('EXISTS', KEYS[k]) == 0 then redis.call('ZADD', KEYS[k], 0, '') end
    redis.call('EXPIRE', KEYS[k], ARGV[1])
  end
  k = k + n + 1
end
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


# One restored key, moved from where the restore staged it into the store, merged with what
# live hits wrote there meanwhile: counts added, HyperLogLogs merged, the top pages' and bots'
# tallies summed, a registry's last-counted times the later of the two; an import's summary,
# content record or recent list kept as the store has it, else the file's. The expiry is the
# later of the two (no expiry beats any). The staged key goes in the same step, so running it
# again (a resumed restore) changes nothing.
#   KEYS: the key, its staged copy   ARGV: the kind, the file's expiry (epoch ms, "" none)
#   returns 1 merged, 0 already merged (no staged copy left)
COMMIT_RESTORED = """
#!lua
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local kind = ARGV[1]
local before = redis.call('PEXPIRETIME', KEYS[1])
if kind == 'count' then
  redis.call('INCRBY', KEYS[1], redis.call('GET', KEYS[2]))
elseif kind == 'hll' then
  redis.call('PFMERGE', KEYS[1], KEYS[2])
elseif kind == 'registry' then
  redis.call('ZUNIONSTORE', KEYS[1], 2, KEYS[1], KEYS[2], 'AGGREGATE', 'MAX')
elseif kind == 'top' or kind == 'bots' then
  redis.call('ZUNIONSTORE', KEYS[1], 2, KEYS[1], KEYS[2])
elseif before == -2 then
  redis.call('COPY', KEYS[2], KEYS[1])
end
redis.call('DEL', KEYS[2])
if ARGV[2] == '' or before == -1 then
  redis.call('PERSIST', KEYS[1])
else
  local at = tonumber(ARGV[2])
  if before > at then at = before end
  redis.call('PEXPIREAT', KEYS[1], at)
end
return 1
"""


# The one restore that may run: a lock held by its id, taken or kept (refreshed) by that id,
# refused to any other while it lives.
#   KEYS: the lock   ARGV: the restore's id, the lock's TTL (s)   returns the id holding it
TAKE_LOCK = """
#!lua
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return holder end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return ARGV[1]
"""
#   KEYS: the lock   ARGV: the restore's id   returns 1 released, 0 held by another (or none)
RELEASE_LOCK = """
#!lua
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
