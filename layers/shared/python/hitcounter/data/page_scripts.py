"""The Lua scripts of per-page counters (the rules every script keeps, and ``script``, are in
``hitcounter.data.scripts``)."""

from __future__ import annotations

from functools import lru_cache

from hitcounter.model import history, keyspace, referrers
from hitcounter.model.keys import page_slot

# One page hit, in one server-side step on the page's slot. In order:
#  1. a replay (an Idempotency-Key seen before) returns the N the first request got;
#  2. a bot (the caller classified it) adds to the page's bot tally of the day by its reason,
#     only for a page that counts already (bots never create pages), and counts nothing;
#  3. a reload: the same visitor on the same page within DEDUPE_SECONDS of their last counted
#     hit counts nothing (a sorted set of the page's recent visitors, by request time, trimmed
#     to the window on each counted hit). Under DNT/GPC the visitor's digest serves this check
#     alone: it is kept for the window and never reaches the uniques;
#  4. the per-client limit: a sliding one-minute log of the client's counted hits in the slot
#     (a sorted set per salted client digest, trimmed to the last 60 s), so no 60-second span
#     ever holds more than RATE_LIMIT_PER_MINUTE of them, minute boundaries included;
#  5. a new page: refused when its slot holds its share of PAGES_MAX (after dropping pages
#     nobody counted for PAGE_IDLE_DAYS), a refusal that writes nothing and takes no budget;
#     otherwise, when asked to, sent back until the caller has taken one of the client's
#     new-page budget (``TAKE_NEW_PAGE``, on the client's own slot);
#  6. the count (its expiry pushed to PAGE_IDLE_DAYS), its minute/hour/day buckets, the
#     visitor in the day's HyperLogLog, the page's last-counted time in the registry, the page
#     in the slot's top-pages index of the day and in each period's running union of today
#     (where a read has made it), the reload and limit records, the referring host.
# Digests arrive unsalted. The day's uniques are salted with the slot's salt of the day; the
# window records (reloads, the limit) with the slot's window salt, which does not change at
# midnight (it lives 48 h past the slot's last hit), so a window never restarts then. Raw
# digests are never stored. The TTLs that
# never change live in the text rather than in every call's arguments.
#   KEYS: count, record, minute, hour, day, uniques, the day's salt, registry, top of the day,
#         recent visitors, the window salt, the page's bot tally of the day, the legacy
#         registry (a set, before pages expired: moved into the registry on first sight),
#         the page's path, the page's image-proxy fetches of the minute, the page's
#         referring hosts of the day, the slot's pages' hits, their hits of the day, their
#         visitors of the day, their referring hosts of the day, then 0-4 running unions of
#         the periods' top pages for today
#   ARGV: record TTL ("0": no Idempotency-Key), the page id, the slot's page cap, a fresh
#         salt, the visitor's digest ("" for none), "n" to record the count or "0" a
#         placeholder (a sharded page: the caller records the total), the client's digest
#         ("" for none), the request's time (ms), DEDUPE_SECONDS in ms ("0": off),
#         RATE_LIMIT_PER_MINUTE ("0": off), the bot's reason ("" for a person), "1" to add
#         the visitor to the uniques ("0" under DNT/GPC), PAGE_IDLE_DAYS in seconds, "1" when
#         a new page may be created ("0": ask for a budget first), the name of the client's
#         limit log without its digest, the page's path ("" for a page named by an id: kept
#         beside the count, with the count's expiry, on each counted hit), an image proxy's
#         cap of counted fetches per page and minute ("0": not a proxy's fetch), "1" when a
#         new page may not be made at all (PAGES_CREATE=listed, and not allowed): outcome 6,
#         the referring host ("" for none: ``hitcounter.model.referrers``)
#   returns {N, outcome, created, the client's counted hits in the last minute, ms until the
#   oldest of them leaves the minute}; outcome 0 counted, 1 replayed, 2 reload, 3 limited,
#   4 bot, 5 a new page needs the client's budget first, -1 a new page refused (PAGES_MAX)
COUNT_PAGE_HIT = f"""
#!lua
local keyed = ARGV[1] ~= '0'
if keyed then
  local seen = redis.call('GET', KEYS[2])
  if seen then return {{tonumber(seen), 1, 0, 0, 0}} end
end
local function current() return tonumber(redis.call('GET', KEYS[1]) or '0') end
local function last_counted()
  local at = redis.call('ZSCORE', KEYS[8], ARGV[2])
  if at or redis.call('EXISTS', KEYS[13]) == 0 then return at end
  local now = ARGV[8]
  for _, member in ipairs(redis.call('SMEMBERS', KEYS[13])) do redis.call('ZADD', KEYS[8], now, member) end
  redis.call('DEL', KEYS[13])
  return redis.call('ZSCORE', KEYS[8], ARGV[2])
end
if ARGV[11] ~= '' then
  if last_counted() then
    redis.call('ZINCRBY', KEYS[12], 1, ARGV[11])
    redis.call('EXPIRE', KEYS[12], {history.PAGE_TTLS["uniques"]})
  end
  return {{current(), 4, 0, 0, 0}}
end
local wsalt = redis.call('GETEX', KEYS[11], 'EX', {history.SALT_TTL})
if not wsalt then
  wsalt = ARGV[4]
  redis.call('SET', KEYS[11], wsalt, 'EX', {history.SALT_TTL})
end
local now, window = tonumber(ARGV[8]), tonumber(ARGV[9])
local visitor = false
if ARGV[5] ~= '' then
  visitor = redis.sha1hex(wsalt .. ARGV[5])
  if window > 0 then
    local last = redis.call('ZSCORE', KEYS[10], visitor)
    if last and now - tonumber(last) < window then return {{current(), 2, 0, 0, 0}} end
  end
end
local limit, log, used = tonumber(ARGV[10]), false, 0
if limit > 0 and ARGV[7] ~= '' then
  log = ARGV[15] .. redis.sha1hex(wsalt .. ARGV[7])
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - 60000)
  used = redis.call('ZCARD', log)
  if used >= limit then
    local oldest = redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')
    return {{current(), 3, 0, used, tonumber(oldest[2]) + 60000 - now}}
  end
end
local created, last = 0, last_counted()
if not last then
  if redis.call('ZCARD', KEYS[8]) >= tonumber(ARGV[3]) then
    redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', now - tonumber(ARGV[13]) * 1000)
    if redis.call('ZCARD', KEYS[8]) >= tonumber(ARGV[3]) then return {{-1, -1, 0, 0, 0}} end
  end
  if ARGV[18] == '1' then return {{0, 6, 0, used, 0}} end
  if ARGV[14] ~= '1' then return {{current(), 5, 0, used, 0}} end
  created = 1
end
-- An image proxy's fetch (one reader, unknown): no reload window, no per-client limit, no
-- visitor (the caller sends none), up to a cap per page and minute (counted here, once the
-- page may count: a new page's first call, sent back for a budget, takes none of it); past
-- it, tallied apart as a bot's.
if ARGV[17] ~= '0' then
  local fetched = redis.call('INCR', KEYS[15])
  if fetched == 1 then redis.call('EXPIRE', KEYS[15], 120) end
  if fetched > tonumber(ARGV[17]) then
    if last then
      redis.call('ZINCRBY', KEYS[12], 1, 'proxy_cap')
      redis.call('EXPIRE', KEYS[12], {history.PAGE_TTLS["uniques"]})
    end
    return {{current(), 4, 0, 0, 0}}
  end
end
-- The registry's time moves at most once a day: what idleness is measured in.
if not last or now - tonumber(last) >= 86400000 then redis.call('ZADD', KEYS[8], now, ARGV[2]) end
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[13])
if ARGV[16] ~= '' then redis.call('SET', KEYS[14], ARGV[16], 'EX', ARGV[13]) end
if keyed then
  local value = 0
  if ARGV[6] == 'n' then value = n end
  redis.call('SET', KEYS[2], value, 'EX', ARGV[1])
end
-- A bucket's TTL is set when its first hit makes it (counted from then: the bucket's
-- retention at most one bucket longer than from its last hit), a HyperLogLog's when a visitor
-- changes it: one EXPIRE a bucket, not one a hit.
if redis.call('INCR', KEYS[3]) == 1 then redis.call('EXPIRE', KEYS[3], {history.PAGE_TTLS["minute"]}) end
if redis.call('INCR', KEYS[4]) == 1 then redis.call('EXPIRE', KEYS[4], {history.PAGE_TTLS["hour"]}) end
if redis.call('INCR', KEYS[5]) == 1 then redis.call('EXPIRE', KEYS[5], {history.PAGE_TTLS["day"]}) end
local member = false
if visitor then
  if ARGV[12] == '1' then
    local salt = redis.call('GET', KEYS[7])
    if not salt then
      salt = ARGV[4]
      redis.call('SET', KEYS[7], salt, 'EX', {history.SALT_TTL})
    end
    member = redis.sha1hex(salt .. ARGV[5])
    if redis.call('PFADD', KEYS[6], member) == 1 then
      redis.call('EXPIRE', KEYS[6], {history.PAGE_TTLS["uniques"]})
    end
  end
  if window > 0 then
    redis.call('ZADD', KEYS[10], now, visitor)
    redis.call('ZREMRANGEBYSCORE', KEYS[10], '-inf', now - window)
    redis.call('PEXPIRE', KEYS[10], window)
  end
end
local reset = 0
if log then
  redis.call('ZADD', log, now, ARGV[4]:sub(1, 16))
  redis.call('PEXPIRE', log, 60000)
  used = used + 1
  reset = tonumber(redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')[2]) + 60000 - now
end
if tonumber(redis.call('ZINCRBY', KEYS[9], 1, ARGV[2])) == 1 then redis.call('EXPIRE', KEYS[9], {history.DAY_TTL}) end
for i = 21, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('ZINCRBY', KEYS[i], 1, ARGV[2]) end
end
-- The slot's pages together: hits all time and of the day, and the day's visitors (what the
-- dashboard's headline reads from 64 slots, whatever the number of pages).
redis.call('INCR', KEYS[17])
if redis.call('INCR', KEYS[18]) == 1 then redis.call('EXPIRE', KEYS[18], {history.PAGE_TTLS["day"]}) end
if member and redis.call('PFADD', KEYS[19], member) == 1 then
  redis.call('EXPIRE', KEYS[19], {history.PAGE_TTLS["uniques"]})
end
-- Where the reader came from (a host, or ""), for the page and for the slot's pages: at most
-- HOSTS_PER_DAY hosts a day each; a new one past it takes the place of the day's
-- least-referred host (ties: the first by name), whose hits move to OTHER. So memory is
-- bounded whatever a flood of made-up hosts sends, and a host readers keep coming from
-- outlasts the one-off ones.
local function refer(refs)
  if not redis.call('ZSCORE', refs, ARGV[19]) then
    local held = redis.call('ZCARD', refs)
    if redis.call('ZSCORE', refs, '{referrers.OTHER}') then held = held - 1 end
    if held >= {referrers.HOSTS_PER_DAY} then
      local low = redis.call('ZRANGE', refs, 0, 1, 'WITHSCORES')
      local gone, hits = low[1], low[2]
      if gone == '{referrers.OTHER}' then gone, hits = low[3], low[4] end
      redis.call('ZREM', refs, gone)
      redis.call('ZINCRBY', refs, hits, '{referrers.OTHER}')
    end
  end
  redis.call('ZINCRBY', refs, 1, ARGV[19])
  redis.call('EXPIRE', refs, {history.PAGE_TTLS["uniques"]}, 'NX')
end
if ARGV[19] ~= '' then
  refer(KEYS[16])
  refer(KEYS[20])
end
return {{n, 0, created, used, reset}}
"""


# One new page for a client: its budget across every slot, kept on the client's own slot (a
# sliding log of the pages it created, by page id, salted with that slot's window salt, for a
# day). Refused when the client created NEW_PAGES_PER_CLIENT_MINUTE in the last 60 s or
# NEW_PAGES_PER_CLIENT_DAY in the last 24 h; the answer then says when one frees. A page the
# log holds already is granted again without a second entry: a client's concurrent first
# hits of one page (a burst, a retry) take one page of its budget, not one each.
#   KEYS: the window salt of the client's slot
#   ARGV: a fresh salt, the client's digest, the request's time (ms), the per-minute and the
#         per-day budget ("0": off), the name of the client's log without its digest, the page
#   returns {1 taken or 0 refused, ms until one frees (0 when taken)}
TAKE_NEW_PAGE = f"""
#!lua
local wsalt = redis.call('GETEX', KEYS[1], 'EX', {history.SALT_TTL})
if not wsalt then
  wsalt = ARGV[1]
  redis.call('SET', KEYS[1], wsalt, 'EX', {history.SALT_TTL})
end
local log = ARGV[6] .. redis.sha1hex(wsalt .. ARGV[2])
local now, per_minute, per_day = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', log, '-inf', now - 86400000)
if redis.call('ZSCORE', log, ARGV[7]) then return {{1, 0}} end
if per_day > 0 and redis.call('ZCARD', log) >= per_day then
  return {{0, tonumber(redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')[2]) + 86400000 - now}}
end
if per_minute > 0 then
  local recent = redis.call('ZRANGEBYSCORE', log, '(' .. (now - 60000), '+inf', 'WITHSCORES', 'LIMIT', 0, per_minute)
  if #recent >= 2 * per_minute then return {{0, tonumber(recent[2]) + 60000 - now}} end
end
redis.call('ZADD', log, now, ARGV[7])
redis.call('PEXPIRE', log, 86400000)
return {{1, 0}}
"""


@lru_cache(maxsize=4096)
def hit_keys(prefix: str, page: str, shard: int, minute_number: int) -> tuple[str, ...]:
    """``COUNT_PAGE_HIT``'s keys but the record (the count first), then the name of the
    client's limit log without its digest: the same for every hit of a page's shard within a
    minute, so a busy page builds them once a minute (the last 4,096 kept; a few µs a miss)."""
    minute_id, hour, day = history.minute_ids(minute_number)
    own, beside = keyspace.page_base(prefix, page, shard), keyspace.slot_base(prefix, page_slot(page, shard))
    return (
        own + keyspace.PAGE_COUNT.pattern,
        own + keyspace.PAGE_MINUTE.at(minute_id),
        own + keyspace.PAGE_HOUR.at(hour),
        own + keyspace.PAGE_DAY.at(day),
        own + keyspace.PAGE_UNIQUES.at(day),
        beside + keyspace.SLOT_SALT.at(day),
        beside + keyspace.REGISTRY.pattern,
        beside + keyspace.TOP.at(day),
        own + keyspace.PAGE_RECENT.pattern,
        beside + keyspace.WINDOW_SALT.pattern,
        own + keyspace.PAGE_BOTS.at(day),
        beside + keyspace.LEGACY_REGISTRY.pattern,
        own + keyspace.PAGE_PATH.pattern,
        own + keyspace.PAGE_PROXY.at(minute_id),
        own + keyspace.PAGE_REFERRERS.at(day),
        beside + keyspace.SLOT_HITS.pattern,
        beside + keyspace.SLOT_DAY.at(day),
        beside + keyspace.SLOT_UNIQUES.at(day),
        beside + keyspace.SLOT_REFERRERS.at(day),
        *[
            beside + keyspace.TOP_UNION.suffix(first=first, day=last)
            for first, last in history.top_spans(minute_number)
        ],
        beside + keyspace.LIMIT_LOG.at(""),
    )
