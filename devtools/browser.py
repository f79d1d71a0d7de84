"""Headless Chromium (from the system's packages; `make setup-browser` installs it): the dashboard's
rendered DOM for the tests, and its picture for `make screenshot`. Each run gets its own
profile directory and a time limit, and is stopped by its process group."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path


def find() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return None


def executable() -> str:
    if found := find():
        return found
    raise FileNotFoundError("chromium is not installed: `make setup-browser` installs it from the system's packages")


def _run(url: str, *flags: str, timeout: float = 60) -> str:
    with tempfile.TemporaryDirectory(prefix="hitcounter-chromium-") as profile:
        args = [
            executable(),
            "--headless=new",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *(["--no-sandbox"] if os.geteuid() == 0 else []),  # Chromium's sandbox refuses root
            *flags,
            url,
        ]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        if proc.returncode != 0:
            raise RuntimeError(f"chromium exited {proc.returncode}: {err[-500:]}")
        return out


def dump_dom(url: str, wait_ms: int = 0, user_agent: str | None = None) -> str:
    """The DOM after the page loaded, serialised (what a user's browser shows); ``wait_ms`` of
    virtual time lets the page's own requests (an image, a fetch) finish first;
    ``user_agent`` replaces headless Chromium's own ("HeadlessChrome", which crawler lists
    rightly name as automation) with a person's browser's."""
    flags = [f"--virtual-time-budget={wait_ms}"] if wait_ms else []
    if user_agent:
        flags.append(f"--user-agent={user_agent}")
    return _run(url, "--dump-dom", *flags)


def screenshot(url: str, path: Path, width: int = 900, height: int = 1000, dark: bool = False) -> None:
    flags = [f"--screenshot={path}", f"--window-size={width},{height}"]
    if dark:
        flags.append("--blink-settings=preferredColorScheme=0")
    _run(url, *flags)
    if not path.is_file():
        raise RuntimeError("chromium wrote no screenshot")
