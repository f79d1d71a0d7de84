"""Every key the layer writes, declared once: its name, Redis type, how long it lives, the
hash tag it sits under, what writes it, whether an export carries it and whether deleting a
page removes it. Writers, reads and the export build and read names from this table
(``site``, ``slot``, ``page``, ``session``, ``match``); no module outside ``hitcounter.model``
spells a key name (``tests/unit/test_keyspace.py`` holds both to that), and a test that runs
every route on a real Redis fails on any key this table does not declare, or that outlives
the TTL it declares (``tests/test_cache_acl.py``). docs/architecture.md shows the table.

Scopes, after the stage's ``KEY_PREFIX``:

* ``site``: ``{hits}:NAME`` (``{hits:i}:NAME`` for shard i with ``HITS_SHARDS`` > 1);
* ``slot``: ``{pg:S}:NAME``, beside the pages of slot S (0-63);
* ``page``: ``{pg:S}:page:ID:NAME``, one page's (shard's) own keys;
* ``session``: ``session:ID`` (one key a session: no tag, no other key beside it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from hitcounter.model import history
from hitcounter.model.keykind import KeyKind as KeyKind  # noqa: PLC0414 - re-exported: the table's users name it here
from hitcounter.model.keys import hits_key, page_key, page_tag_key

SITE, SLOT, PAGE, SESSION = "site", "slot", "page", "session"

TOP_CACHE_SECONDS = 10
JOB_STATE_TTL = 7 * 86400
STAGED_TTL = 86400  # a restore's staged copies, if it stops and is not run again
IMPORTS_DAY_TTL = 86400 + 3600

# fmt: off
# The site's counter, its history, its imports, exports and restores. A bucket is kept its
# unit's retention after its last write; an import's buckets, that retention counted from the
# bucket's end (``history.bucket_ttl``): at most one bucket's length more.
SITE_COUNT = KeyKind("count", SITE, "count", "string", None, "COUNT_HIT, COMMIT_IMPORT", export="count",
                what="the seed's counter (one per shard)")
SITE_RECORD = KeyKind("idem", SITE, "idem:{digest}", "string", "IDEMPOTENCY_TTL_SECONDS", "COUNT_HIT",
                 what="an Idempotency-Key's answer")
SITE_MINUTE = KeyKind("minute", SITE, "m:{minute}", "string", history.MINUTE_TTL + 60, "COUNT_HIT, COMMIT_IMPORT",
                 export="count", what="hits of a minute")
SITE_HOUR = KeyKind("hour", SITE, "h:{hour}", "string", history.HOUR_TTL + 3600, "COUNT_HIT, COMMIT_IMPORT",
                    export="count", what="hits of an hour")
SITE_DAY = KeyKind("day", SITE, "d:{day}", "string", history.DAY_TTL + 86400, "COUNT_HIT, COMMIT_IMPORT",
                   export="count", what="hits of a day")
SITE_UNIQUES = KeyKind("uniques", SITE, "u:{day}", "hll", history.DAY_TTL, "COUNT_HIT, COMMIT_IMPORT", export="hll",
                  what="a day's unique visitors, salted")
SITE_SALT = KeyKind("salt", SITE, "salt:{day}", "string", history.SALT_TTL, "COUNT_HIT, STAGE_VISITORS",
               what="the day's salt of the uniques (never exported: it must die)")
SITE_UNIQUES_UNION = KeyKind("uniques union", SITE, "uq:{period}:{day}", "hll", history.UNION_TTL, "PERIOD_UNION",
                        what="a period's closed days' uniques, merged once a day")
IMPORT_SUMMARY = KeyKind("import", SITE, "import:{id}", "string", history.DAY_TTL, "COMMIT_IMPORT", export="summary",
                    what="a finished import's summary (the ledger)")
IMPORT_STATE = KeyKind("import state", SITE, "import:{id}:state", "string", JOB_STATE_TTL, "ImportStore.set_state",
                  what="an import under way, or failed")
IMPORT_VISITORS = KeyKind("import visitors", SITE, "import:{id}:u:{day}", "hll", "IMPORT_STALE_SECONDS",
                     "STAGE_VISITORS", what="an import's visitors of a day, before its commit merges them")
IMPORT_CONTENT = KeyKind("content", SITE, "content:{digest}", "string", history.DAY_TTL, "ImportStore.claim_content",
                    export="content", what="the import that owns a content digest")
IMPORTS_DAY = KeyKind("imports of a day", SITE, "imports:day:{day}", "string", IMPORTS_DAY_TTL, "ADMIT_IMPORT",
                 what="imports started that UTC day (IMPORTS_PER_DAY)")
IMPORTS_RECENT = KeyKind("recent imports", SITE, "imports:recent", "list", None, "COMMIT_IMPORT", export="recent",
                    what="the last 10 imports (trimmed on each)")
JOB_STATE = KeyKind("job state", SITE, "{job}:{id}:state", "string", JOB_STATE_TTL, "SnapshotStore.set_state",
               what="an export's or a restore's state")
RESTORE_LOCK = KeyKind("restore lock", SITE, "restore:lock", "string", "IMPORT_STALE_SECONDS", "TAKE_LOCK",
                  what="the one restore that may run")
SITE_STAGED = KeyKind("staged", SITE, "rst:{restore}:{rest}", "any", STAGED_TTL, "RESTORE_KEY",
                 what="a restore's copy of a key, until COMMIT_RESTORED merges it")

# Beside a slot's pages.
REGISTRY = KeyKind("registry", SLOT, "reg", "zset", None, "COUNT_PAGE_HIT, SEED_PAGE", export="registry",
              what="page → its last counted time; at most the slot's share of PAGES_MAX")
LEGACY_REGISTRY = KeyKind("legacy registry", SLOT, "pages", "set", None, "(before pages expired)",
                     export="legacy_registry", what="moved into the registry on first sight")
SLOT_SALT = KeyKind("salt", SLOT, "salt:{day}", "string", history.SALT_TTL, "COUNT_PAGE_HIT",
               what="the day's salt of the slot's uniques")
WINDOW_SALT = KeyKind("window salt", SLOT, "wsalt", "string", history.SALT_TTL, "COUNT_PAGE_HIT, TAKE_NEW_PAGE",
                 what="the salt of the reload and limit records")
TOP = KeyKind("top", SLOT, "top:{day}", "zset", history.DAY_TTL, "COUNT_PAGE_HIT", export="top",
         what="the day's counted hits by page")
TOP_UNION = KeyKind("top union", SLOT, "topq:{first}:{day}", "zset", history.UNION_TTL, "TOP_UNION, COUNT_PAGE_HIT",
               what="a period's running top pages")
TOP_CACHE = KeyKind("top cache", SLOT, "topc:{period}:{limit}:{day}", "string", TOP_CACHE_SECONDS, "TopPages.keep_top",
               what="an assembled top list (slot 0)")
LIMIT_LOG = KeyKind("limit log", SLOT, "rl:{log}", "zset", 60, "COUNT_PAGE_HIT",
               what="a client's counted hits of the last minute in the slot")
NEW_PAGE_LOG = KeyKind("new-page log", SLOT, "nb:{log}", "zset", 86400, "TAKE_NEW_PAGE",
                  what="the pages a client created in the last day")
SLOT_STAGED = KeyKind("staged", SLOT, "rst:{restore}:{rest}", "any", STAGED_TTL, "RESTORE_KEY",
                 what="a restore's copy of a slot's or page's key")

# One page's own (per shard with HITS_SHARDS > 1): every one goes with the page.
SLOT_HITS = KeyKind("pages' hits", SLOT, "hits", "string", None,
                    "COUNT_PAGE_HIT, SEED_PAGE, REPLACE_COUNT, TAKE_OFF_COUNT, DELETE_PAGE", export="count",
                    what="the slot's pages' counted hits (a seed's, a correction's and a delete's included)")
SLOT_DAY = KeyKind("pages' day", SLOT, "hd:{day}", "string", history.PAGE_TTLS["day"], "COUNT_PAGE_HIT",
                   export="count", what="the slot's pages' counted hits of a day")
SLOT_UNIQUES = KeyKind("pages' uniques", SLOT, "hu:{day}", "hll", history.PAGE_TTLS["uniques"], "COUNT_PAGE_HIT",
                       export="hll", what="the slot's pages' unique visitors of a day, salted as a page's")
SLOT_REFERRERS = KeyKind("pages' referrers", SLOT, "r:{day}", "zset", history.PAGE_TTLS["uniques"], "COUNT_PAGE_HIT",
                         export="referrers",
                         what="the slot's pages' referring hosts of a day (at most 50, then `other`)")
SLOT_REFERRERS_UNION = KeyKind("pages' referrers union", SLOT, "rq:{period}:{day}", "zset", history.UNION_TTL,
                               "TOP_UNION", what="a period's closed days' referring hosts of the slot's pages")

IMPORT_APPLIED = KeyKind("import chunks", SLOT, "imp:{id}", "hash", history.PAGE_TTLS["uniques"],
                         "APPLY_PAGE_IMPORT", what="a counter import's chunks the slot applied, and what they wrote")

PAGE_COUNT = KeyKind("count", PAGE, "count", "string", "PAGE_IDLE_DAYS", "COUNT_PAGE_HIT, SEED_PAGE", export="count",
                page_delete=True, what="the page's total")
PAGE_RECORD = KeyKind("idem", PAGE, "idem:{digest}", "string", "IDEMPOTENCY_TTL_SECONDS", "COUNT_PAGE_HIT",
                 page_delete=True, what="an Idempotency-Key's answer")
PAGE_MINUTE = KeyKind("minute", PAGE, "m:{minute}", "string", history.PAGE_TTLS["minute"], "COUNT_PAGE_HIT",
                 export="count", page_delete=True, what="hits of a minute")
PAGE_HOUR = KeyKind("hour", PAGE, "h:{hour}", "string", history.PAGE_TTLS["hour"], "COUNT_PAGE_HIT", export="count",
               page_delete=True, what="hits of an hour")
PAGE_DAY = KeyKind("day", PAGE, "d:{day}", "string", history.PAGE_TTLS["day"], "COUNT_PAGE_HIT", export="count",
              page_delete=True, what="hits of a day")
PAGE_UNIQUES = KeyKind("uniques", PAGE, "u:{day}", "hll", history.PAGE_TTLS["uniques"], "COUNT_PAGE_HIT",
                  export="hll", page_delete=True, what="a day's unique visitors, salted")
PAGE_UNIQUES_UNION = KeyKind("uniques union", PAGE, "uq:{period}:{day}", "hll", history.UNION_TTL, "PERIOD_UNION",
                        page_delete=True, what="a period's closed days' uniques, merged once a day")
PAGE_RECENT = KeyKind("recent", PAGE, "recent", "zset", "DEDUPE_SECONDS", "COUNT_PAGE_HIT", page_delete=True,
                 what="visitors counted within the reload window")
PAGE_BOTS = KeyKind("bots", PAGE, "b:{day}", "zset", history.PAGE_TTLS["uniques"], "COUNT_PAGE_HIT", export="bots",
               page_delete=True, what="the day's bot requests by reason")
PAGE_BOTS_UNION = KeyKind("bots union", PAGE, "bq:{period}:{day}", "zset", history.UNION_TTL, "TOP_UNION",
                     page_delete=True, what="a period's closed days' bot tallies, summed once a day")
PAGE_PROXY = KeyKind("proxy fetches", PAGE, "px:{minute}", "string", 120, "COUNT_PAGE_HIT", page_delete=True,
                     what="an image proxy's counted fetches of the page in a minute (its cap)")
PAGE_REFERRERS = KeyKind("referrers", PAGE, "r:{day}", "zset", history.PAGE_TTLS["uniques"], "COUNT_PAGE_HIT",
                         export="referrers", page_delete=True,
                         what="the day's referring hosts and their hits (at most 50, then `other`)")
PAGE_REFERRERS_UNION = KeyKind("referrers union", PAGE, "rq:{period}:{day}", "zset", history.UNION_TTL, "TOP_UNION",
                               page_delete=True, what="a period's closed days' referring hosts, summed once a day")
PAGE_PATH = KeyKind("path", PAGE, "path", "string", "PAGE_IDLE_DAYS", "COUNT_PAGE_HIT", export="path",
                    page_delete=True, what="a path page's path, in its normal form (for display)")

SESSION_DATA = KeyKind("session", SESSION, "{sid}", "hash", "SESSION_TTL_SECONDS", "CREATE, VISIT, REPLACE",
                  what="a session's visits and data")
# fmt: on

KINDS: tuple[KeyKind, ...] = tuple(value for value in list(globals().values()) if isinstance(value, KeyKind))
BY_SCOPE: dict[str, tuple[KeyKind, ...]] = {
    scope: tuple(kind for kind in KINDS if kind.scope == scope) for scope in (SITE, SLOT, PAGE, SESSION)
}
# A unit's bucket, by history.Unit.prefix, as the site's and a page's history name them.
SITE_BUCKETS = {"m": SITE_MINUTE, "h": SITE_HOUR, "d": SITE_DAY}
PAGE_BUCKETS = {"m": PAGE_MINUTE, "h": PAGE_HOUR, "d": PAGE_DAY}


@dataclass(frozen=True, slots=True)
class HistoryKinds:
    """The kinds one history read names (the site's or a page's): the same shape, two tables."""

    buckets: dict[str, KeyKind]
    uniques: KeyKind
    union: KeyKind
    count: KeyKind


SITE_HISTORY = HistoryKinds(SITE_BUCKETS, SITE_UNIQUES, SITE_UNIQUES_UNION, SITE_COUNT)
PAGE_HISTORY = HistoryKinds(PAGE_BUCKETS, PAGE_UNIQUES, PAGE_UNIQUES_UNION, PAGE_COUNT)


_UNIT_FIELD = {"m": "minute", "h": "hour", "d": "day"}


def bucket(unit_prefix: str, ident: str) -> str:
    """A site bucket's name under its shard's tag (``m:…``, ``h:…``, ``d:…``): how an import
    sums its buckets before the commit names each key."""
    return SITE_BUCKETS[unit_prefix].suffix(**{_UNIT_FIELD[unit_prefix]: ident})


def site_bucket(prefix: str, shards: int, shard: int, name: str) -> str:
    """The key of a bucket named by ``bucket`` (ValueError for any other name)."""
    if not any(kind.regex.fullmatch(name) for kind in SITE_BUCKETS.values()):
        raise ValueError("not a bucket's name")
    return hits_key(prefix, shards, shard, name)


def site(prefix: str, shards: int, shard: int, kind: KeyKind, **fields: object) -> str:
    return hits_key(prefix, shards, shard, kind.suffix(**fields))


def slot(prefix: str, slot_: int, kind: KeyKind, **fields: object) -> str:
    return page_tag_key(prefix, slot_, kind.suffix(**fields))


def page(prefix: str, page_id: str, kind: KeyKind, shard: int = 0, **fields: object) -> str:
    return page_key(prefix, page_id, kind.suffix(**fields), shard)


def staged(key: str, ident: str) -> str:
    """Where restore ``ident`` stages ``key`` (a name without the prefix): beside it, under
    its hash tag (a site's or a slot's), named by the restore."""
    tag, _, rest = key.partition("}:")
    return f"{tag}}}:{SITE_STAGED.suffix(restore=ident[:16], rest=rest)}"


def page_base(prefix: str, page_id: str, shard: int = 0) -> str:
    """What every key of a page's shard starts with (a name appended makes the key)."""
    return page_key(prefix, page_id, "", shard)


def slot_base(prefix: str, slot_: int) -> str:
    """What every key beside the pages of ``slot_`` starts with."""
    return page_tag_key(prefix, slot_, "")


def session(prefix: str, sid: str) -> str:
    return f"{prefix}session:{SESSION_DATA.suffix(sid=sid)}"


_SITE = re.compile(r"\{hits(?::(?P<shard>0|[1-9][0-9]{0,3}))?\}:(?P<name>.+)")
_SLOT = re.compile(r"\{pg:(?P<slot>0|[1-9][0-9]?)\}:(?P<name>.+)")
_PAGE = re.compile(r"page:(?P<page>[^:]{1,64}):(?P<name>.+)")
_SESSION = re.compile(r"session:(?P<name>.+)")


class Match(NamedTuple):
    """A key name read back: its kind, its fields, and where it sits (``shard``: a site key's
    shard, None for ``{hits}``; ``slot``; ``page``: the page id of a page key)."""

    kind: KeyKind
    fields: dict[str, str]
    shard: int | None = None
    slot: int | None = None
    page: str | None = None


def _find(scope: str, name: str) -> tuple[KeyKind, dict[str, str]] | None:
    for kind in BY_SCOPE[scope]:
        found = kind.regex.fullmatch(name)
        if found:
            return kind, found.groupdict()
    return None


def match(key: str) -> Match | None:
    """What a key (its name without the stage's prefix) is, by the table; None for a name the
    table does not declare. The fields' shapes are checked here; whether a page id is valid,
    or sits in its slot, is the caller's (``hitcounter.model.snapshot``)."""
    site_ = _SITE.fullmatch(key)
    if site_:
        found = _find(SITE, site_["name"])
        shard = None if site_["shard"] is None else int(site_["shard"])
        return None if found is None else Match(*found, shard=shard)
    slot_ = _SLOT.fullmatch(key)
    if slot_:
        number = int(slot_["slot"])
        found = _find(SLOT, slot_["name"])
        if found:
            return Match(*found, slot=number)
        one = _PAGE.fullmatch(slot_["name"])
        found = None if one is None else _find(PAGE, one["name"])
        return None if found is None or one is None else Match(*found, slot=number, page=one["page"])
    session_ = _SESSION.fullmatch(key)
    found = None if session_ is None else _find(SESSION, session_["name"])
    return None if found is None else Match(*found)
