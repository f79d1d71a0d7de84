"""What a kind of key is (``hitcounter.model.keyspace`` holds the table of them): its name
pattern, whose fields each match what their writers put there, its type, its lifetime, who
writes it, whether an export carries it and whether a page's delete removes it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from hitcounter.model import history

# What each field of a name may hold: what the writers put there.
FIELDS = {
    "minute": "[0-9]{12}",  # history.minute_id: YYYYMMDDHHMM, UTC
    "hour": "[0-9]{10}",
    "day": "[0-9]{8}",
    "first": "[0-9]{8}",  # the first day of a period's span
    "period": "|".join(re.escape(name) for name in history.PERIODS),
    "limit": "[1-9][0-9]{0,2}",
    "digest": "[0-9a-f]{64}",  # SHA-256: an Idempotency-Key's, a content's
    "log": "[0-9a-f]{40}",  # SHA-1 of the window salt and a client's digest (Redis's sha1hex)
    "id": "[0-9a-f]{32}",  # an import's, export's or restore's id
    "job": "export|restore",
    "restore": "[0-9a-f]{16}",  # a restore's id, shortened: the stage of its keys
    "rest": ".+",  # the staged key's own name
    "sid": "[A-Za-z0-9_-]{43}",  # 32 random bytes, URL-safe base64
}


@dataclass(frozen=True)
class KeyKind:
    """One kind of key. ``ttl``: seconds at most (a fixed number), a setting's name (its value
    bounds it: in seconds, or days for a name ending ``_DAYS``), or None (kept: bounded by
    what it holds, said in ``what``)."""

    name: str
    scope: str
    pattern: str
    type: str
    ttl: int | str | None
    writer: str
    export: str | None = None
    page_delete: bool = False
    what: str = ""

    def suffix(self, **fields: object) -> str:
        return self.pattern.format(**fields) if fields else self.pattern

    @cached_property
    def regex(self) -> re.Pattern[str]:
        parts = re.split(r"\{(\w+)\}", self.pattern)
        body = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>{FIELDS[part]})" for i, part in enumerate(parts))
        return re.compile(body)

    def at(self, value: str) -> str:
        """The name of a kind of one field (``m:{minute}``) for ``value``: ``suffix`` without
        keyword packing, for the hot path (a page hit names a dozen keys)."""
        return self.head + value + self.tail

    @cached_property
    def tail(self) -> str:
        """The name's fixed end, after its last field."""
        return self.pattern.rsplit("}", 1)[1] if "}" in self.pattern else ""

    @cached_property
    def head(self) -> str:
        """The name's fixed start, up to its first field: what ``tests/unit/test_keyspace.py``
        looks for outside ``hitcounter.model``."""
        return self.pattern.split("{", 1)[0]
