"""Access logs made to measure for the hostile tests: one log line, and gzip bombs made in
milliseconds."""

from __future__ import annotations

import gzip

LINE = b'198.51.100.7 - - [23/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 512\n'


def members(block: bytes, times: int) -> bytes:
    """``block`` repeated ``times`` as concatenated gzip members: a file that decompresses to
    ``len(block) * times`` bytes, made in milliseconds (gzip allows many members)."""
    return gzip.compress(block, compresslevel=9, mtime=0) * times
