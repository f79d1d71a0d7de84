"""User-Agents made to be slow to classify, for ``make bench`` and the bot tests: each
character repeated, and the crawler list's own words repeated or shuffled (what makes a
backtracking matcher try many of its 1,500 patterns at every position), all at the
classification's cap (``hitcounter.model.bots.MAX_AGENT_CHARS``)."""

from __future__ import annotations

import random
import re
import string

from hitcounter.model.bots import MAX_AGENT_CHARS


def list_words() -> list[str]:
    """The literal runs of the crawler list's and exclusions' patterns."""
    from crawlerdetect.providers.crawlers import data as crawlers
    from crawlerdetect.providers.exclusions import data as exclusions

    return sorted({w for p in crawlers + exclusions for w in re.findall(r"[A-Za-z][A-Za-z ./]{2,}", p)})


def adversarial(count: int = 1500, seed: int = 7) -> list[str]:
    """``count`` hostile agents (plus one per printable character), each MAX_AGENT_CHARS long."""
    rng = random.Random(seed)  # noqa: S311 - a repeatable corpus, not a secret
    words = list_words()
    agents = [ch * MAX_AGENT_CHARS for ch in string.printable[:95]]
    for word in rng.sample(words, min(len(words), count // 2)):
        agents.append(((word + rng.choice(["", " ", "/", "1"])) * MAX_AGENT_CHARS)[:MAX_AGENT_CHARS])
    while len(agents) < count + 95:
        agents.append("".join(rng.choice(words) + rng.choice(["", " ", "/", "."]) for _ in range(80))[:MAX_AGENT_CHARS])
    return agents
