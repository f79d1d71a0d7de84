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

The list is about 1,500 patterns in one alternation. Python's ``re`` tries it at every
position and backtracks, so its cost grows with the agent's length times the patterns that
may start there: CrawlerDetect's own matcher takes 20-40 ms on a 512-character ``aaaa…``
and about 7 ms on agents made of its own words repeated, where a browser's costs 0.2 ms.
Here the same patterns run on RE2 (``google-re2``), an automaton that reads each character
once: every agent costs the same order whatever it holds (``make bench`` measures the worst
of an adversarial corpus). One pattern uses a look-ahead RE2 lacks (``Yandex(?!Search)``);
it is matched apart by ``re``, which finds its literal start directly. The verdicts are
CrawlerDetect's (a test compares them on a corpus).

The automaton is built on the first classification (not at import: the seed's ``GET /``
never pays it), and verdicts are kept per User-Agent in a bounded LRU cache, so a browser's
repeated agent costs a dictionary lookup.
"""

from __future__ import annotations

from functools import lru_cache

NO_USER_AGENT, CRAWLER, NO_ACCEPT_LANGUAGE = "no_user_agent", "crawler", "no_accept_language"
REASONS = (CRAWLER, NO_ACCEPT_LANGUAGE, NO_USER_AGENT)
# Image proxies that fetch for a person (the start of their User-Agent).
PROXIES = ("github-camo",)
# A User-Agent longer than this is classified by its first this-many characters: the
# classification's time stays bounded whatever a client sends.
MAX_AGENT_CHARS = 512


class _Matcher:
    """CrawlerDetect's test (its exclusions removed from the agent, then its crawler patterns
    searched, case-insensitively) on linear-time automata."""

    def __init__(self) -> None:
        import re

        import re2
        from crawlerdetect.providers.crawlers import data as crawlers
        from crawlerdetect.providers.exclusions import data as exclusions

        options = re2.Options()
        options.case_sensitive = False
        options.max_mem = 32 << 20  # room for the DFA of 1,500 patterns; past it RE2 stays linear, slower
        linear = [p for p in crawlers if "(?!" not in p and "(?=" not in p and "(?<" not in p]
        self._crawlers = re2.compile("|".join(linear), options)
        self._exclusions = re2.compile("|".join(exclusions), options)
        # The few look-around patterns start with a literal, which ``re`` finds directly.
        self._lookaround = [re.compile(p, re.IGNORECASE) for p in crawlers if p not in linear]

    def listed(self, agent: str) -> bool:
        # UTF-8 bytes: RE2 works on them, and the wrapper then does not convert every match's
        # offsets from characters (its ``sub`` costs ~5 µs a match that way).
        text = agent.encode("utf-8", "surrogatepass")
        kept, end = [], 0
        for match in self._exclusions.finditer(text):
            start, stop = match.span()
            kept.append(text[end:start])
            end = stop
        kept.append(text[end:])
        rest = b"".join(kept)
        if not rest:
            return False
        if self._crawlers.search(rest) is not None:
            return True
        return bool(self._lookaround) and any(p.search(rest.decode("utf-8", "surrogatepass")) for p in self._lookaround)


@lru_cache(maxsize=1)
def _matcher() -> _Matcher:
    return _Matcher()


def prepare() -> None:
    """Build the automata now rather than on the first page hit: what a SnapStart snapshot
    should hold (functions/hits registers it before the snapshot)."""
    matcher = _matcher()
    matcher.listed("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36")
    matcher.listed("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")


@lru_cache(maxsize=4096)
def listed(user_agent: str) -> bool:
    """Whether the maintained list names this User-Agent (verdicts cached per agent)."""
    return _matcher().listed(user_agent)


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
