"""Who may read the numbers (``STATS_ACCESS``, docs/operating.md): anyone (``public``, the
default), or only a request carrying one of the owner's tokens (``token``), for the reads:
``/hits``, ``/stats``, ``/pages``, a page's stats, ``/dashboard``. Counting, badges and
``count.js`` stay public. The stack keeps only the tokens' SHA-256 digests, compared in
constant time: nothing that could be replayed sits in its environment."""

from __future__ import annotations

import hashlib
import hmac

from hitcounter.core.errors import Unauthorized


class TokenRequired(Unauthorized):
    code = "token_required"
    message = "these statistics are private: send Authorization: Bearer <token>, or ?token=<token>"


def require_reader(mode: str, digests: tuple[str, ...], offered: str | None) -> None:
    """Nothing for a public counter, or for a token whose digest is one of ``digests``;
    TokenRequired otherwise (no token, a wrong one, or none configured)."""
    if mode != "token":
        return
    if not offered:
        raise TokenRequired()
    digest = hashlib.sha256(offered.encode("utf-8", "surrogatepass")).hexdigest()
    # Every digest compared, each in constant time: which one matched, if any, takes no longer.
    matched = False
    for accepted in digests:
        matched |= hmac.compare_digest(digest, accepted)
    if not matched:
        raise TokenRequired()
