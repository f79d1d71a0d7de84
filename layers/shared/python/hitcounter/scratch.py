"""``/tmp`` as factor VI allows it: a scratch space for one invocation, never a cache.

Each invocation that needs disk gets a directory of its own under the scratch root, removed
in ``finally`` whatever happens, so nothing one invocation wrote is there for the next one
(leftovers fill a warm environment's /tmp: Sparticuz/chromium#231) or leaks to it (CWE-377).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hitcounter.errors import InsufficientStorage

# Left free for the runtime and the parser's own buffers.
HEADROOM_BYTES = 16 * 1024 * 1024


def ensure_room(root: Path, needed: int) -> None:
    """Refuse, before anything is written, a download the scratch space cannot hold."""
    free = shutil.disk_usage(root).free
    if needed + HEADROOM_BYTES > free:
        raise InsufficientStorage(
            f"the object is {needed} bytes; the scratch space has {max(0, free - HEADROOM_BYTES)} bytes free"
        )


@contextmanager
def invocation_dir(root: Path) -> Iterator[Path]:
    """A private directory (mode 0700) for this invocation, gone when the block ends."""
    path = Path(tempfile.mkdtemp(prefix="invocation-", dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
