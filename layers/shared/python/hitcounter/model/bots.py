"""Which page requests are bots, and why: counted apart, never as page hits or visitors.

Evidence, cheapest first (docs/pages.md says why each, and what it misses):

* ``no_user_agent``: no User-Agent at all. Every browser sends one.
* ``crawler``: a User-Agent a maintained list names: crawlers, link previewers, monitors,
  HTTP libraries and command-line tools (CrawlerDetect's list, the ``crawlerdetect``
  package: chosen over ``crawler-user-agents`` on measured recall; docs/pages.md).
* ``no_accept_language``: no Accept-Language. Every mainstream browser sends it on every
  request, images included; HTTP libraries and most scripts do not. Sec-Fetch-* is not used:
  Safari sent none before 16.4, so its absence would count real people as bots.

An image proxy that fetches a badge for a person reading a page (GitHub's ``camo``, Gmail's
and Yahoo Mail's, which send neither Accept-Language nor a browser's User-Agent) is a
person's request, not a bot's: without that exception no badge in a GitHub README would ever
count. Its fetches are counted per reader, up to a cap per page (``hitcounter.data.page_store``);
past it they are tallied as ``proxy_cap``.

The list is about 1,500 patterns in one alternation. Python's ``re`` tries it at every
position and backtracks, so its cost grows with the agent's length times the patterns that
may start there: CrawlerDetect's own matcher takes 20-40 ms on a 512-character ``aaaa…``
and about 7 ms on agents made of its own words repeated, where a browser's costs 0.2 ms.
Here the same patterns run on RE2 (``google-re2``), an automaton that reads each character
once: every agent costs the same order whatever it holds (``make bench`` measures the worst
of an adversarial corpus). One pattern uses a look-ahead RE2 lacks (``Yandex(?!Search)``);
it is matched apart by ``re``, which finds its literal start directly. The verdicts are
CrawlerDetect's (a test compares them on a corpus).

Before the list sees an agent, what names a device rather than a program is hidden
(``normalised``): the model in an Android agent's comment ("Spider 8", "VR BOT" are phones)
becomes ``K``, as Chrome's own reduced agent writes it, and Chromium's ``Cronet/…`` network
stack token (which the list's ``Cron`` pattern matches) is dropped. Measured on matomo's
device-detector fixtures (``python -m devtools.botcorpus``, docs/pages.md), it removes most
of the list's false positives and no labelled bot.

The automaton is built on the first classification (not at import: the seed's ``GET /``
never pays it), and verdicts are kept per User-Agent in a bounded LRU cache, so a browser's
repeated agent costs a dictionary lookup.
"""

from __future__ import annotations

import re
from functools import lru_cache

NO_USER_AGENT, CRAWLER, NO_ACCEPT_LANGUAGE = "no_user_agent", "crawler", "no_accept_language"
# An image proxy's fetches past IMAGE_PROXY_HITS_PER_PAGE_MINUTE: tallied apart, as a bot's.
PROXY_CAP = "proxy_cap"
# The owner's rules' refusals (hitcounter.model.owners), tallied with the bots.
EXCLUDED, FOREIGN_ORIGIN = "excluded", "foreign_origin"
REASONS = (CRAWLER, NO_ACCEPT_LANGUAGE, NO_USER_AGENT, PROXY_CAP, EXCLUDED, FOREIGN_ORIGIN)
# Image proxies that fetch for one reader each time: GitHub's (README images), Gmail's and
# Yahoo Mail's. The start of their User-Agent, and a token Gmail's carries.
PROXIES = ("github-camo", "yahoomailproxy")
PROXY_TOKENS = ("googleimageproxy",)
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


# What an Android agent's comment holds besides the device model: kept as it is.
_KEPT_PART = re.compile(
    r"(?:Linux|U|wv|Mobile|Tablet|K|Android(?: [\w.]+)?|[a-z]{2}(?:[-_][A-Za-z]{2})?|rv:[\w.]+)", re.I
)
_CRONET = re.compile(r"\s*\bCronet/[\w.]*", re.I)


def _device_part(part: str) -> bool:
    """A comment part naming a device ("Pixel 2 Build/OPD3", "Spider 8"), not a program: a
    program's token ("Storebot-Google/1.0") has a version after a "/" and is kept."""
    text = part.strip()
    return bool(text) and not _KEPT_PART.fullmatch(text) and ("/" not in text or " Build/" in text)


def _device_hidden(comment: str) -> str:
    return ";".join(
        (" K" if part.startswith(" ") else "K") if _device_part(part) else part for part in comment.split(";")
    )


def normalised(agent: str) -> str:
    """``agent`` as the list reads it: each parenthesised comment naming Android with its
    device model as ``K``, and any ``Cronet/…`` token dropped; anything else as it is. Linear
    in the agent's length (string scans, no backtracking pattern over the whole)."""
    if "Android" in agent:
        out, rest = [], agent
        while (start := rest.find("(")) >= 0 and (end := rest.find(")", start)) >= 0:
            comment = rest[start + 1 : end]
            out.append(rest[: start + 1] + (_device_hidden(comment) if "Android" in comment else comment) + ")")
            rest = rest[end + 1 :]
        agent = "".join(out) + rest
    if "ronet" in agent or "RONET" in agent:
        agent = _CRONET.sub("", agent)
    return agent


@lru_cache(maxsize=4096)
def listed(user_agent: str) -> bool:
    """Whether the maintained list names this User-Agent (verdicts cached per agent)."""
    return _matcher().listed(user_agent)


def is_proxy(user_agent: str) -> bool:
    """An image proxy that fetches for one reader (``PROXIES``, ``PROXY_TOKENS``)."""
    agent = user_agent.strip().lower()
    return agent.startswith(PROXIES) or any(token in agent for token in PROXY_TOKENS)


def reason(user_agent: str | None, accept_language: str | None) -> str | None:
    """Why this request is a bot's, or None for a person's."""
    agent = (user_agent or "").strip()[:MAX_AGENT_CHARS]
    if not agent:
        return NO_USER_AGENT
    if is_proxy(agent):
        return None
    if listed(normalised(agent)):
        return CRAWLER
    if not (accept_language or "").strip():
        return NO_ACCEPT_LANGUAGE
    return None
