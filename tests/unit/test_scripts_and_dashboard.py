"""Every Lua script declares its flags and bounds what it creates; the dashboard renders
escaped, small and under its own CSP."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from hitcounter.data import import_scripts, page_admin_scripts, page_scripts, scripts
from hitcounter.web import dashboard

SCRIPTS = {
    name: value
    for module in (scripts, import_scripts, page_scripts, page_admin_scripts)
    for name, value in vars(module).items()
    if name.isupper() and not name.startswith("_") and isinstance(value, str)
}


def test_there_are_scripts() -> None:
    assert {"COUNT_HIT", "COMMIT_IMPORT", "PERIOD_UNION"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_each_script_declares_its_flags_and_gives_everything_it_sets_a_ttl(name: str) -> None:
    source = SCRIPTS[name].strip()
    assert source.startswith("#!lua") and "allow-oom" not in source.splitlines()[0]
    for set_call in re.findall(r"redis\.call\('SET'[^)]*\)", source):
        # A TTL of its own, or the one the key has (KEEPTTL: a count corrected keeps its expiry).
        assert "'EX'" in set_call or "'KEEPTTL'" in set_call, f"{name}: {set_call} has no TTL"
    scripts.script(source)  # its sha, with no client and no I/O


def _stats(period: str = "30d") -> dict[str, object]:
    return {
        "period": period,
        "unit": "day",
        "total": 12,
        "hits": 12,
        "uniques": 3,
        "today": {"hits": 2, "uniques": 1},
        "series": [{"start": f"2026-11-{d:02d}T00:00:00Z", "hits": d % 3, "uniques": 1} for d in range(1, 31)],
    }


def test_the_dashboard_escapes_what_comes_from_data() -> None:
    page = dashboard.render(_stats(), [{"key": "logs/<script>x</script>", "counted": 1, "imported_at": "t"}])
    assert "<script>x" not in page and "&lt;script&gt;" in page


def test_the_dashboard_is_small_and_its_style_is_the_one_the_policy_allows() -> None:
    page = dashboard.render(_stats(), [])
    assert len(page.encode()) < 50_000
    (style,) = re.findall(r"<style>(.*?)</style>", page, re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in dashboard.HEADERS["Content-Security-Policy"]
