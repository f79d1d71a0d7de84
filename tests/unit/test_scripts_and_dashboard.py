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


def test_the_days_unions_are_made_in_one_call_per_slot_each_bounded() -> None:
    """The 64 page slots' top unions of a 30-day period: on one Redis, as few calls as the key
    bound allows (not 64); on a cluster, one per hash slot; never a union split, never one
    named twice, each call's counts matching its keys."""
    from redis.crc import key_slot

    from hitcounter.data.history_reads import UNION_KEYS_PER_CALL, union_calls

    unions = [(f"{{pg:{s}}}:topq", [f"{{pg:{s}}}:top:{d}" for d in range(29)]) for s in range(64)]

    def unpacked(calls: list[tuple[list[str], list[str]]]) -> list[tuple[str, list[str]]]:
        made = []
        for keys, counts in calls:
            assert len(keys) <= UNION_KEYS_PER_CALL or len(counts) == 1  # a union is never split
            at = 0
            for n in map(int, counts):
                made.append((keys[at], keys[at + 1 : at + 1 + n]))
                at += n + 1
            assert at == len(keys)
        return made

    one_redis = union_calls(unions, None)
    assert len(one_redis) == 2  # 34 unions of 30 keys (1,020) in the first, the other 30 in the second
    assert unpacked(one_redis) == unions
    on_a_cluster = union_calls(unions, lambda key: key_slot(key.encode()))
    assert len(on_a_cluster) == 64
    assert all(len({key_slot(k.encode()) for k in keys}) == 1 for keys, _ in on_a_cluster)
    assert sorted(unpacked(on_a_cluster)) == sorted(unions)
    # A union larger than the bound goes alone, whole.
    big = [("{pg:1}:uq", [f"{{pg:1}}:u:{d}" for d in range(UNION_KEYS_PER_CALL + 5)]), *unions[:2]]
    assert unpacked(union_calls(big, None)) == big
