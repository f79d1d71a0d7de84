"""``/tmp`` as factor VI allows it: a scratch space for one invocation, never a cache.

Each invocation that needs disk gets a directory of its own under the scratch root, removed
in ``finally`` whatever happens, so nothing one invocation wrote is there for the next one
(leftovers fill a warm environment's /tmp: Sparticuz/chromium#231) or leaks to it (CWE-377).

``finally`` is not enough on Lambda: a timeout or an out-of-memory kill ends the process
without running it, and ``/tmp`` survives into the next invocation of that environment. So
each invocation first sweeps directories that earlier, killed invocations left. Only this
project's prefix is touched, and only directories whose owner is gone: each invocation holds
an exclusive ``flock`` on its directory's lock file for as long as it runs, and the kernel
drops that lock when the process dies, however it dies. Where several invocations share one
scratch root (``make dev``'s workers), a live one's directory is never swept.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hitcounter.core.errors import InsufficientStorage, PayloadTooLarge

# Left free for the runtime and the parser's own buffers.
HEADROOM_BYTES = 16 * 1024 * 1024
PREFIX = "hitcounter-scratch-"
_LOCK = ".owner.lock"
_UNLOCKED_GRACE_SECONDS = 60


def ensure_room(root: Path, needed: int) -> None:
    """Refuse, before anything is written, a download the scratch space cannot hold."""
    free = shutil.disk_usage(root).free
    if needed + HEADROOM_BYTES > free:
        raise InsufficientStorage(
            f"the object is {needed} bytes; the scratch space has {max(0, free - HEADROOM_BYTES)} bytes free"
        )


def sweep(root: Path) -> int:
    """Remove scratch directories whose invocation is gone; returns how many."""
    removed = 0
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(root):
            if not entry.name.startswith(PREFIX) or not entry.is_dir(follow_symlinks=False):
                continue
            path = Path(entry.path)
            try:
                fd = os.open(path / _LOCK, os.O_RDONLY)
            except FileNotFoundError:
                # No lock file: an invocation between mkdtemp and its lock (leave it), or one
                # killed in that instant long ago (sweep it).
                if time.time() - entry.stat(follow_symlinks=False).st_mtime < _UNLOCKED_GRACE_SECONDS:
                    continue
                fd = -1
            except OSError:
                continue
            try:
                if fd >= 0:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held: a live invocation
            except BlockingIOError:
                os.close(fd)
                continue
            shutil.rmtree(path, ignore_errors=True)
            if fd >= 0:
                os.close(fd)
            removed += 1
    return removed


@contextmanager
def invocation_dir(root: Path) -> Iterator[Path]:
    """A private directory (mode 0700) for this invocation, held under an exclusive lock and
    gone when the block ends; what killed invocations left is swept first."""
    sweep(root)
    path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=root))
    fd = os.open(path / _LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def make_room(root: Path, max_bytes: int, size: int) -> None:
    """Refuse an object over ``max_bytes`` (IMPORT_MAX_OBJECT_BYTES), then make room for it in
    the scratch directory (``ensure_room``: refused past the free space)."""
    if size > max_bytes:
        raise PayloadTooLarge(f"the object is {size} bytes; imports take at most {max_bytes}")
    ensure_room(root, size)
