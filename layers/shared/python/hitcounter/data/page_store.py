"""Per-page counters in Redis: one script per counted page hit, each page's history read as
the site's is, and the period's top pages. Pages live under ``PAGE_SLOTS`` hash tags
(``hitcounter.model.keys``): a page's keys, its slot's registry, salt and top-pages index
share one slot, so a hit is one script, and pages spread over a cluster's shards."""

from __future__ import annotations

import hashlib
import secrets
import time

from hitcounter.data.all_pages import AllPages
from hitcounter.data.import_scripts import APPLY_PAGE_IMPORT
from hitcounter.data.page_admin import PageAdmin
from hitcounter.data.page_admin_scripts import DELETE_PAGE, REPLACE_COUNT, SEED_PAGE, TAKE_OFF_COUNT
from hitcounter.data.page_imports import PageImports
from hitcounter.data.page_reads import PageReads
from hitcounter.data.page_scripts import COUNT_PAGE_HIT, TAKE_NEW_PAGE, hit_keys
from hitcounter.data.redis_client import RedisHandle
from hitcounter.data.scripts import PERIOD_UNION, TOP_UNION, script
from hitcounter.data.top_pages import TopPages
from hitcounter.model import keyspace
from hitcounter.model.history import Visit
from hitcounter.model.keys import PAGE_SLOTS, page_slot, shard_of, slot_cap
from hitcounter.model.pages import COUNTED, NEW_LIMITED, OUTCOMES, REFUSED, REPLAYED, UNLISTED, PageHit

# What the script's outcome codes mean (hitcounter.model.pages); 5: a new page needs the
# client's budget first.
_NEEDS_BUDGET = 5


class PageStore(PageReads, TopPages, PageAdmin, AllPages, PageImports):
    def __init__(
        self,
        handle: RedisHandle,
        key_prefix: str,
        pages_max: int,
        idempotency_ttl: int = 86400,
        shards: int = 1,
        *,
        dedupe_seconds: int = 0,
        rate_limit: int = 0,
        idle_days: int = 365,
        new_per_minute: int = 0,
        new_per_day: int = 0,
        proxy_per_minute: int = 0,
    ) -> None:
        self._redis = handle
        self._prefix = key_prefix
        # HITS_SHARDS > 1: each page is spread over that many slots (a hot page's increments
        # over a cluster's shards); a hit counts on one, and a read sums them, as for the site.
        self.shards = min(shards, PAGE_SLOTS)
        self.pages_max = pages_max
        # Each slot holds its share; with page ids spread by a hash, the whole holds about
        # PAGES_MAX (a slot may fill a little before the others: docs/pages.md).
        self.slot_cap = slot_cap(pages_max)
        self.idempotency_ttl = idempotency_ttl
        self.dedupe_ms = dedupe_seconds * 1000
        self.rate_limit = rate_limit
        self.idle_seconds = idle_days * 86400
        self.new_per_minute, self.new_per_day = new_per_minute, new_per_day
        # An image proxy's counted fetches per page and minute (0: its fetches follow a
        # person's rules, reloads and the per-client limit).
        self.proxy_per_minute = proxy_per_minute
        self._count = script(COUNT_PAGE_HIT)
        self._take_new = script(TAKE_NEW_PAGE)
        self._period_union = script(PERIOD_UNION)
        self._top_union = script(TOP_UNION)
        self._seed = script(SEED_PAGE)
        self._replace = script(REPLACE_COUNT)
        self._delete = script(DELETE_PAGE)
        self._take_off = script(TAKE_OFF_COUNT)
        self._apply_import = script(APPLY_PAGE_IMPORT)

    def seed(self, page: str, hits: int) -> int:
        """Give a page that has no count its starting count: 1 done, 0 it already counts, -1
        refused (PAGES_MAX). One script on the page's first shard, after a read of every
        shard when the page is spread (HITS_SHARDS > 1)."""
        if self.shards > 1 and self.count(page) is not None:
            return 0
        slot = page_slot(page)
        keys = [
            self._key(page, keyspace.PAGE_COUNT),
            self._slot_key(slot, keyspace.REGISTRY),
            self._slot_key(slot, keyspace.LEGACY_REGISTRY),
            self._slot_key(slot, keyspace.SLOT_HITS),
        ]
        args: list[str | int] = [page, self.slot_cap, hits, time.time_ns() // 1_000_000, self.idle_seconds]
        with self._redis.use() as client:
            return int(self._seed(keys=keys, args=args, client=client))

    def _shard(self, visit: Visit, digest: str | None) -> int:
        """A keyed hit goes to its key's shard (its retries find their record); anything
        else to its client's (so one client's limit window and one visitor's reloads and
        uniques stay on one shard: a visitor is one client and one User-Agent), else its
        visitor's, else anywhere."""
        if self.shards == 1:
            return 0
        if digest is not None:
            return shard_of(digest, self.shards)
        who = (visit.client if self.rate_limit else "") or visit.visitor
        return shard_of(who, self.shards) if who else secrets.randbelow(self.shards)

    def hit(  # noqa: PLR0917 - one request of a page, as plain values
        self,
        page: str,
        visit: Visit,
        idempotency_key: str | None = None,
        bot: str | None = None,
        path: str = "",
        unlisted: bool = False,
        referrer: str = "",
    ) -> PageHit:
        """One request of ``page`` (``bot``: the reason it is counted apart, None for a
        person; ``referrer``: the host the reader came from, or ""): one EVALSHA, never
        re-sent. A page's first hit with the new-page budget on takes one of its client's
        budget first (two more calls, the page's creation only).
        With HITS_SHARDS > 1, then the page's total, read (two round trips, as for the site's
        sharded counter)."""
        digest = None
        if idempotency_key is not None:
            digest = hashlib.sha256(idempotency_key.encode("utf-8", "surrogatepass")).hexdigest()
        shard = self._shard(visit, digest)
        keys, args = self._hit_call(page, visit, shard, digest, bot, path, unlisted, referrer)
        budget = bool(self.new_per_minute or self.new_per_day)
        args[13] = "0" if budget else "1"
        with self._redis.use() as client:
            n, code, created, used, reset = self._count(keys=keys, args=args, client=client)
            if int(code) == _NEEDS_BUDGET:
                taken, wait_ms = self._take_new(
                    keys=[self._slot_key(self._client_slot(visit), keyspace.WINDOW_SALT)],
                    args=[secrets.token_hex(16), visit.client or "-", visit.at_ms, self.new_per_minute,
                          self.new_per_day, self._slot_key(self._client_slot(visit), keyspace.NEW_PAGE_LOG, log=""),
                          page],
                    client=client,
                )  # fmt: skip
                if not int(taken):
                    return PageHit(int(n), NEW_LIMITED, reset_ms=int(wait_ms))
                args[13] = "1"
                n, code, created, used, reset = self._count(keys=keys, args=args, client=client)
        outcome = OUTCOMES[int(code)]
        if outcome in (REFUSED, UNLISTED):
            return PageHit(0, outcome)
        if self.shards == 1 or (outcome == REPLAYED and int(n) > 0):
            return PageHit(int(n), outcome, bool(created), int(used), int(reset))
        # Sharded: the N a request sees is the page's total (after its increment, if it
        # counted), and a key's record takes that total (idempotent: the same value, only if
        # it exists).
        total = self.count(page) or 0
        if digest is not None and outcome == COUNTED:
            with self._redis.use() as client:
                client.set(keys[1], total, xx=True, keepttl=True)
        return PageHit(total, outcome, bool(created), int(used), int(reset))

    @staticmethod
    def _client_slot(visit: Visit) -> int:
        """The slot that keeps a client's new-page budget (one for every page it creates)."""
        return shard_of(visit.client or "-", PAGE_SLOTS)

    def _hit_call(  # noqa: PLR0917 - the script's arguments
        self,
        page: str,
        visit: Visit,
        shard: int,
        digest: str | None,
        bot: str | None,
        path: str = "",
        unlisted: bool = False,
        referrer: str = "",
    ) -> tuple[list[str], list[str | int]]:
        """The keys and arguments of ``COUNT_PAGE_HIT`` (its comment says what each is)."""
        minute_number = visit.at_ms // 60_000
        proxy = visit.proxy and self.proxy_per_minute > 0
        fixed = hit_keys(self._prefix, page, shard, minute_number)
        record = fixed[0] if digest is None else self._key(page, keyspace.PAGE_RECORD, shard, digest=digest)
        keys = [fixed[0], record, *fixed[1:-1]]
        args: list[str | int] = [
            self.idempotency_ttl if digest is not None else 0,
            page,
            self.slot_cap,
            secrets.token_hex(16),  # the slot's salts, if this is their first hit
            visit.visitor,
            "n" if self.shards == 1 else "0",
            visit.client if self.rate_limit and not proxy else "",
            visit.at_ms,
            self.dedupe_ms,
            self.rate_limit,
            bot or "",
            "1" if visit.track else "0",
            self.idle_seconds,
            "1",
            fixed[-1],
            path,
            self.proxy_per_minute if proxy else "0",
            "1" if unlisted else "0",
            referrer,
        ]
        return keys, args

    def count(self, page: str) -> int | None:
        """The page's count (its shards summed, one pipeline of GETs), None for a page nobody
        has counted."""
        with self._redis.use() as client:
            pipe = client.pipeline(transaction=False)
            for shard in range(self.shards):
                pipe.get(self._key(page, keyspace.PAGE_COUNT, shard))
            values = [int(v) for v in pipe.execute() if v is not None]
        return sum(values) if values else None
