"""Which page requests are bots, and why: counted apart, never as page hits or visitors.

Evidence, cheapest first (docs/pages.md says why each, and what it misses):

* ``no_user_agent``: no User-Agent at all. Every browser sends one.
* ``crawler``: a User-Agent a maintained list names: crawlers, link previewers, monitors,
  HTTP libraries and command-line tools (CrawlerDetect's list, the ``crawlerdetect``
  package: chosen over ``crawler-user-agents`` on measured recall; docs/pages.md).
* ``no_accept_language``: no Accept-Language. Every mainstream browser sends it on every
  request, images included; HTTP libraries and most scripts do not. Sec-Fetch-* is not used:
  Safari sent none before 16.4, so its absence would count real people as bots.

An image proxy that fetches a badge for a person reading a page (GitHub's ``camo``, which
sends neither Accept-Language nor a browser's User-Agent) is a person's request, not a bot's:
without that exception no badge in a GitHub README would ever count.

The list is a few hundred patterns in one regular expression, compiled on the first
classification (not at import: the seed's ``GET /`` never pays it), and its verdicts are
kept per User-Agent in a bounded LRU cache, so a browser's repeated agent costs a
dictionary lookup. ``make bench`` measures both.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

NO_USER_AGENT, CRAWLER, NO_ACCEPT_LANGUAGE = "no_user_agent", "crawler", "no_accept_language"
REASONS = (CRAWLER, NO_ACCEPT_LANGUAGE, NO_USER_AGENT)
# Image proxies that fetch for a person (the start of their User-Agent).
PROXIES = ("github-camo",)
# A User-Agent longer than this is classified by its first this-many characters: the
# classification's time stays bounded whatever a client sends.
MAX_AGENT_CHARS = 512


@lru_cache(maxsize=1)
def _detector() -> Any:
    # One detector for the process: its regular expression is compiled on its first use.
    from crawlerdetect import CrawlerDetect

    return CrawlerDetect()


def prepare() -> None:
    """Compile the list now (about 18 ms) rather than on the first page hit: what a
    SnapStart snapshot should hold (functions/hits registers it before the snapshot)."""
    _detector().is_crawler("Mozilla/5.0 (compile the list)")


@lru_cache(maxsize=4096)
def listed(user_agent: str) -> bool:
    """Whether the maintained list names this User-Agent (verdicts cached per agent)."""
    return bool(_detector().is_crawler(user_agent))


def reason(user_agent: str | None, accept_language: str | None) -> str | None:
    """Why this request is a bot's, or None for a person's."""
    agent = (user_agent or "").strip()[:MAX_AGENT_CHARS]
    if not agent:
        return NO_USER_AGENT
    if agent.lower().startswith(PROXIES):
        return None
    if listed(agent):
        return CRAWLER
    if not (accept_language or "").strip():
        return NO_ACCEPT_LANGUAGE
    return None
