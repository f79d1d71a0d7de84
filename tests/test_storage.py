"""Everything anyone can create has a TTL or a cap, and the worst case at the template's
defaults fits in the cache's usage limit (docs/limits-and-costs.md, "Storage"). Sizes are what a real
redis-server says (``MEMORY USAGE``, which counts the key, the value and Redis's own
overhead) for the largest item each route can make."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from cfnlint.decode import cfn_yaml

from hitcounter.logic.accesslog import MAX_PATH_CHARS, TOP_PATHS
from hitcounter.logic.sessions import MAX_DATA_BYTES
from hitcounter.model import history, referrers
from hitcounter.model.keys import PAGE_SLOTS
from tests.support.events import ROOT, Invoke, load_event

# What docs/limits-and-costs.md, "Storage" says each item costs at most, in bytes (measured below).
README_BYTES = {
    "idempotency record": 150,
    "session": 5_500,
    "import summary": 4_300,
    "content record": 200,
    "page count": 150,
    "page bucket": 160,
    "recent visitor": 200,
    "limit window client": 160,
    "new-page log client": 200,
    "bot tally": 220,
    "referrers of a day": 4_300,
    "import marker": 200,
    "hyperloglog byte per visitor": 6,
}
# MEMORY USAGE leaves out the expiry table's entry and the allocator's fragmentation.
OVERHEAD = 1.5


@dataclass(frozen=True)
class Defaults:
    """The template's defaults that bound how many items can exist at once."""

    hit_rate: float  # GET / (each request may carry a new Idempotency-Key)
    route_rate: float  # every other route
    page_rate: float  # GET /pages/{page} and its badge, each
    pages_max: int
    session_ttl_max: int
    idempotency_ttl: int
    imports_per_day: int
    cache_max_bytes: int


def _defaults() -> Defaults:
    doc = cfn_yaml.load(str(ROOT / "template.yaml"))
    params = doc["Parameters"]
    env = doc["Globals"]["Function"]["Environment"]["Variables"]
    return Defaults(
        hit_rate=float(params["ThrottleRateLimit"]["Default"]),
        route_rate=float(params["RouteThrottleRateLimit"]["Default"]),
        page_rate=float(params["PageThrottleRateLimit"]["Default"]),
        pages_max=int(params["PagesMax"]["Default"]),
        session_ttl_max=int(params["SessionTtlSeconds"]["MaxValue"]),
        idempotency_ttl=int(env["IDEMPOTENCY_TTL_SECONDS"]),
        imports_per_day=int(env["IMPORTS_PER_DAY"]),
        cache_max_bytes=int(params["CacheMaxDataGB"]["Default"]) * 10**9,
    )


def _usage(client: redis.Redis, pattern: str) -> int:
    (key,) = client.keys(pattern)
    ttl = client.ttl(key)
    assert ttl > 0, f"{key!r} has no TTL"
    return int(client.memory_usage(key, samples=0) or 0)


@pytest.fixture
def measured(invoke_hits: Invoke, invoke_session: Invoke, shared_redis: Any, redis_url: str) -> dict[str, float]:
    client = shared_redis.client()
    sizes: dict[str, float] = {}
    # An idempotency record: the largest key a client can choose is hashed to 64 hex digits.
    event = load_event("hits/get-root-json")
    event["headers"]["idempotency-key"] = "k" * 255
    invoke_hits(event)
    sizes["idempotency record"] = _usage(client, "*:idem:*")
    # A session holding the most data PUT /session takes.
    created = invoke_session(load_event("session/post-session"))
    sid = created["cookies"][0].split(";")[0].split("=", 1)[1]
    put = load_event("session/put-session")
    put["cookies"] = [f"__Host-sid={sid}"]
    put["body"] = json.dumps({"d": "x" * (MAX_DATA_BYTES - 10)})
    assert invoke_session(put)["statusCode"] == 200
    sizes["session"] = _usage(client, "*session:*")
    # An import's summary at its largest (every top path at the longest kept), its content record.
    summary = {
        "id": "f" * 32,
        "key": "logs/" + "k" * 251,
        "etag": "e" * 34,
        "lines": 10**12,
        "counted": 10**12,
        "malformed": 10**12,
        "long_lines": 10**12,
        "bytes": 10**10,
        "decompressed_bytes": 10**11,
        "sha256": "0" * 64,
        "top_paths": [{"path": "/" + "p" * (MAX_PATH_CHARS - 1), "requests": 10**12}] * TOP_PATHS,
        "untimed": 10**12,
        "imported_at": "2026-12-01T12:00:00+00:00",
        "duplicate_of": "f" * 32,
    }
    client.set("{hits}:import:" + "f" * 32, json.dumps(summary, separators=(",", ":")), ex=history.DAY_TTL)
    sizes["import summary"] = _usage(client, "{hits}:import:*")
    client.set("{hits}:content:" + "0" * 64, "f" * 32, ex=history.DAY_TTL)
    sizes["content record"] = _usage(client, "{hits}:content:*")
    # A page at its longest id: its count (no TTL: PAGES_MAX bounds them), a bucket.
    page = load_event("hits/get-page")
    page["rawPath"] = page["requestContext"]["http"]["path"] = "/pages/" + "p" * 64
    page["pathParameters"] = {"page": "p" * 64}
    assert invoke_hits(page)["statusCode"] == 200
    (count_key,) = client.keys("*:page:*:count")
    sizes["page count"] = int(client.memory_usage(count_key, samples=0) or 0)
    sizes["page bucket"] = _usage(client, "*:page:*:d:*")
    # The accuracy rules: the page's recent visitors (one), the slot's limit window (one
    # client), and the page's bot tally of the day with every reason in it.
    sizes["recent visitor"] = _usage(client, "*:page:*:recent")
    sizes["limit window client"] = _usage(client, "*:rl:*")
    sizes["new-page log client"] = _usage(client, "*:nb:*")
    for agent, language in (("Googlebot/2.1", "en"), ("", "en"), ("Mozilla/5.0 (X11; Linux x86_64)", "")):
        page["headers"]["user-agent"], page["headers"]["accept-language"] = agent, language
        invoke_hits(page)
    sizes["bot tally"] = _usage(client, "*:page:*:b:*")
    # The page's referring hosts of the day at their largest: every host kept at its longest,
    # and other (a flood past the cap).
    page["headers"]["user-agent"] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"
    page["headers"]["accept-language"] = "en"
    for i in range(referrers.HOSTS_PER_DAY + 5):
        page["queryStringParameters"] = {"r": f"https://{i:03d}{'h' * (referrers.MAX_HOST - 7)}.org/"}
        page["requestContext"]["http"]["sourceIp"] = f"198.51.100.{i + 1}"
        assert invoke_hits(page)["statusCode"] == 200
    assert client.zcard(client.keys("*:page:*:r:*")[0]) == referrers.HOSTS_PER_DAY + 1
    sizes["referrers of a day"] = _usage(client, "*:page:*:r:*")
    # A counter import's marker in a slot, at its largest numbers (APPLY_PAGE_IMPORT's hash).
    client.hset("{pg:0}:imp:" + "f" * 32, mapping={"chunks": 999, "refused": 10**6, "written": 10**12})
    client.expire("{pg:0}:imp:" + "f" * 32, 86400)
    sizes["import marker"] = _usage(client, "{pg:0}:imp:*")
    # A HyperLogLog's bytes per visitor at its worst: just after it turns dense (12 KB).
    hll, added = "{hits}:hll-probe", 0
    while client.execute_command("OBJECT", "ENCODING", hll) != "raw" if added else True:
        client.pfadd(hll, *(f"v-{added + i}" for i in range(50)))
        added += 50
    sizes["hyperloglog byte per visitor"] = round(int(client.memory_usage(hll, samples=0) or 0) / added, 2)
    return sizes


def test_each_item_costs_what_the_readme_says_or_less(measured: dict[str, float]) -> None:
    print("bytes per item:", measured)
    for item, stated in README_BYTES.items():
        assert measured[item] <= stated, (item, measured[item], stated)


def test_the_worst_case_at_the_defaults_fits_the_caches_usage_limit(measured: dict[str, float]) -> None:
    d = _defaults()
    # Live sessions: each POST, GET or PUT /session keeps at most one alive for the TTL.
    sessions = 3 * d.route_rate * d.session_ttl_max * measured["session"]
    # Idempotency records: every GET / with a new key, kept IDEMPOTENCY_TTL_SECONDS.
    records = d.hit_rate * d.idempotency_ttl * measured["idempotency record"]
    # The import ledger: IMPORTS_PER_DAY summaries and content records, kept as long as the
    # day buckets (states are smaller and kept a week).
    ledger = d.imports_per_day * history.DAY_TTL / 86400 * (measured["import summary"] + measured["content record"])
    # The history, per counter shard: every bucket its retention allows, a dense HyperLogLog
    # (12 KB) per day kept, and the periods' unions.
    buckets = (history.MINUTE_TTL // 60 + history.HOUR_TTL // 3600 + history.DAY_TTL // 86400) * 80
    hlls = (history.DAY_TTL // 86400 + 2 * len(history.DAY_PERIODS)) * 12_400
    # Pages: each count lives for good (PAGES_MAX bounds them); each page hit (two routes)
    # may bring a new idempotency record, bucket and visitor; a page's visitors are kept 35
    # days, its day buckets 400 (PAGES_MAX of them a day at most).
    page_hits_a_day = 2 * d.page_rate * 86400
    pages = (
        d.pages_max * measured["page count"]
        + page_hits_a_day * d.idempotency_ttl / 86400 * measured["idempotency record"]
        + page_hits_a_day * history.PAGE_TTLS["uniques"] / 86400 * measured["hyperloglog byte per visitor"]
        + d.pages_max * history.DAY_TTL / 86400 * measured["page bucket"]
        # Minute and hour buckets: no more than the hits that could make them, nor than the
        # pages have buckets.
        + min(
            page_hits_a_day * (history.PAGE_TTLS["minute"] + history.PAGE_TTLS["hour"]) / 86400,
            d.pages_max * (history.PAGE_TTLS["minute"] / 60 + history.PAGE_TTLS["hour"] / 3600),
        )
        * measured["page bucket"]
        # A bot tally per page and day (every reason), kept as long as the page's uniques.
        + d.pages_max * history.PAGE_TTLS["uniques"] / 86400 * measured["bot tally"]
        # The referring hosts per page and day (at most HOSTS_PER_DAY and other), kept as long.
        + d.pages_max * history.PAGE_TTLS["uniques"] / 86400 * measured["referrers of a day"]
        # Every page together, per slot: a day's hits (kept as a page's day bucket), visitors
        # (a dense HyperLogLog) and referring hosts (kept as a page's), and its hits.
        + PAGE_SLOTS * history.PAGE_TTLS["day"] / 86400 * measured["page bucket"]
        + PAGE_SLOTS * history.PAGE_TTLS["uniques"] / 86400 * (12_400 + measured["referrers of a day"])
        + PAGE_SLOTS * measured["page count"]
        # A counter import's marker per slot it wrote, kept 35 days: IMPORTS_PER_DAY imports
        # a day at most.
        + d.imports_per_day * history.PAGE_TTLS["uniques"] / 86400 * PAGE_SLOTS * measured["import marker"]
        # Recent visitors live DEDUPE_SECONDS, a client's limit log a minute: at most the hits
        # of that long, one entry each (as if each were a client of its own). A client's
        # new-page log lives a day, an entry per page it made: a page is made only while its
        # slot has room, and room comes back only as pages go idle (a day at the least), so a
        # day makes at most twice PAGES_MAX (as if each were a client of its own).
        + page_hits_a_day * 3600 / 86400 * measured["recent visitor"]
        + page_hits_a_day * 60 / 86400 * measured["limit window client"]
        + 2 * d.pages_max * measured["new-page log client"]
    )
    total = (sessions + records + ledger + buckets + hlls + pages) * OVERHEAD
    print(
        f"worst case: sessions {sessions / 1e9:.2f} GB, records {records / 1e9:.2f} GB, ledger {ledger / 1e9:.3f} GB, "
        f"pages {pages / 1e9:.2f} GB, all with overhead {total / 1e9:.2f} GB"
    )
    assert total <= 0.8 * d.cache_max_bytes, total
