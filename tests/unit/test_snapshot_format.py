"""The export format's grammar and checks (hitcounter.model.snapshot), without Redis."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from hitcounter.core.errors import Unprocessable
from hitcounter.model import snapshot, snapshot_values
from hitcounter.model.keys import page_slot

SPARSE_EMPTY = b"HYLL\x01\0\0\0" + b"\0" * 8 + bytes([0x40 | 0x3F, 0xFF])  # XZERO: all 16,384 registers


@pytest.mark.parametrize(
    ("key", "shards", "kind"),
    [
        ("{hits}:count", 1, "count"),
        ("{hits:3}:count", 4, "count"),
        ("{hits}:m:202612011530", 1, "count"),
        ("{hits}:h:2026120115", 1, "count"),
        ("{hits}:d:20261201", 1, "count"),
        ("{hits}:u:20261201", 1, "hll"),
        ("{hits}:import:" + "a" * 32, 1, "summary"),
        ("{hits}:content:" + "b" * 64, 1, "content"),
        ("{hits}:imports:recent", 1, "recent"),
        ("{pg:5}:reg", 1, "registry"),
        ("{pg:5}:pages", 1, "legacy_registry"),
        ("{pg:5}:top:20261201", 1, "top"),
        (f"{{pg:{page_slot('home')}}}:page:home:count", 1, "count"),
        (f"{{pg:{page_slot('home')}}}:page:home:u:20261201", 1, "hll"),
        (f"{{pg:{page_slot('home')}}}:page:home:b:20261201", 1, "bots"),
        (f"{{pg:{page_slot('home', 2)}}}:page:home:d:20261201", 3, "count"),
        # Not exported: derived, short-lived, or secret.
        ("{hits}:salt:20261201", 1, None),
        ("{hits}:uq:30d:20261201", 1, None),
        ("{hits}:idem:" + "c" * 64, 1, None),
        ("{hits}:import:" + "a" * 32 + ":state", 1, None),
        ("{hits}:imports:day:20261201", 1, None),
        (f"{{pg:{page_slot('home')}}}:page:home:recent", 1, None),
        ("{pg:5}:rl:202612011530", 1, None),
        ("{pg:5}:rl:" + "d" * 40, 1, None),
        ("{pg:5}:nb:" + "d" * 40, 1, None),
        ("{pg:5}:wsalt", 1, None),
        ("{pg:5}:topq:30d:20261201", 1, None),
        ("{pg:5}:topq:20251202:20261201", 1, None),
        ("{pg:5}:rst:0123456789abcdef:reg", 1, None),
        ("{hits}:restore:lock", 1, None),
        ("session:abc", 1, None),
        # Not this layout: another shard count, a slot that does not exist, a page in the wrong slot.
        ("{hits:0}:count", 1, None),
        ("{hits}:count", 4, None),
        ("{hits:4}:count", 4, None),
        ("{pg:64}:pages", 1, None),
        (f"{{pg:{(page_slot('home') + 1) % 64}}}:page:home:count", 1, None),
        ("{hits}:d:20261341", 1, None),  # no 41st of the 13th month
        ("{pg:5}:page:..:count", 1, None),
    ],
)
def test_a_keys_name_alone_says_whether_and_how_it_is_exported(key: str, shards: int, kind: str | None) -> None:
    assert snapshot.kind(key, shards) == kind


def test_hyperloglogs_are_checked_as_redis_reads_them() -> None:
    assert snapshot_values.valid_hll(SPARSE_EMPTY)
    assert snapshot_values.valid_hll(b"HYLL\0\0\0\0" + b"\0" * 8 + b"\0" * 12288)  # dense, the exact size
    assert not snapshot_values.valid_hll(b"HYLL\0\0\0\0" + b"\0" * 8 + b"\0" * 12287)
    assert not snapshot_values.valid_hll(SPARSE_EMPTY[:-1] + b"\xfe")  # one register short
    assert not snapshot_values.valid_hll(SPARSE_EMPTY + b"\x80")  # one too many
    assert not snapshot_values.valid_hll(SPARSE_EMPTY[:-1])  # an XZERO cut in half
    assert not snapshot_values.valid_hll(b"HYLX" + SPARSE_EMPTY[4:])
    assert not snapshot_values.valid_hll(SPARSE_EMPTY[:4] + b"\x02" + SPARSE_EMPTY[5:])  # no such encoding
    # A restored HyperLogLog's cached count is marked stale: Redis counts its registers.
    assert (
        snapshot_values.recount(SPARSE_EMPTY)[15] & 0x80
        and snapshot_values.recount(SPARSE_EMPTY)[16:] == SPARSE_EMPTY[16:]
    )


def _line(record: Any) -> bytes:
    return json.dumps(record).encode()


DAY_MS = 86_400_000
HOME = page_slot("home")


def _dense_hll(register: int) -> str:
    """A dense HyperLogLog whose last register holds ``register`` (the others 0)."""
    registers = (register << (6 * 16383)).to_bytes(12288, "little")
    return base64.b64encode(b"HYLL\0\0\0\0" + b"\0" * 8 + registers).decode()


def test_records_are_checked_and_the_expired_skipped() -> None:
    assert snapshot.check_record(_line({"k": "{hits}:u:20261201", "v": _dense_hll(51), "x": None}), 1, 157, 0)
    assert snapshot.check_record(_line({"k": "{hits}:count", "v": 2**53, "x": None}), 1, 157, 0)
    assert snapshot.check_record(_line({"k": "{hits}:d:20261201", "v": 1, "x": 3660 * DAY_MS}), 1, 157, 0)
    registry = snapshot.check_record(_line({"k": f"{{pg:{HOME}}}:reg", "v": {"home": 5}, "x": None}), 1, 157, 0)
    assert registry is not None and registry.value == {"home": 5}
    hll = base64.b64encode(SPARSE_EMPTY).decode()
    now = 1_796_000_000_000  # December 2026
    ok = snapshot.check_record(_line({"k": "{hits}:u:20261201", "v": hll, "x": 2_000_000_000_000}), 1, 157, now)
    assert ok is not None and ok.kind == "hll" and ok.expires_at == 2_000_000_000_000
    assert snapshot.check_record(_line({"k": "{hits}:count", "v": 3, "x": 5}), 1, 157, 10) is None  # expired
    bad_records: list[dict[str, Any]] = [
        {"k": "{hits}:count", "v": 1.5, "x": None},
        {"k": "{hits}:count", "v": True, "x": None},
        {"k": "{hits}:count", "v": 2**63, "x": None},
        {"k": "{hits}:count", "v": 2**63 - 1, "x": None},  # the next hit would overflow
        {"k": "{hits}:count", "v": 2**53 + 1, "x": None},  # past JSON's safe integers
        {"k": "{hits}:d:20261201", "v": 1, "x": 2**64},  # PXAT refuses it: checked before any write
        {"k": "{hits}:d:20261201", "v": 1, "x": 3661 * DAY_MS},  # no key lives ten years
        {"k": "{hits}:u:20261201", "v": _dense_hll(63), "x": None},  # PFCOUNT would answer -2^63
        {"k": "{hits}:u:20261201", "v": _dense_hll(52), "x": None},
        {"k": "{pg:5}:reg", "v": {"ok": 1}, "x": None},  # a page of another slot
        {"k": f"{{pg:{HOME}}}:reg", "v": {"home": -1}, "x": None},
        {"k": f"{{pg:{HOME}}}:reg", "v": ["home"], "x": None},  # version 1's shape under version 2's name
        {"k": f"{{pg:{HOME}}}:pages", "v": ["home", "home"], "x": None},  # a page twice
        {"k": f"{{pg:{HOME}}}:top:20261201", "v": {"home": 1, "ok": 2}, "x": None},  # "ok" lives in another slot
        {"k": "{hits}:count", "v": 1, "x": "soon"},
        {"k": "{pg:5}:pages", "v": ["ok", "<script>"], "x": None},
        {"k": "{pg:5}:pages", "v": [f"p{i}" for i in range(158)], "x": None},  # past the slot's share
        {"k": "{pg:5}:top:20261201", "v": {"home": -1}, "x": None},
        {"k": "{hits}:imports:recent", "v": [{}] * 11, "x": None},
        {"k": "{hits}:content:" + "b" * 64, "v": "../../etc", "x": None},
    ]
    for bad in bad_records:
        with pytest.raises(Unprocessable):
            snapshot.check_record(_line(bad), 1, 157, 0)


def test_the_header_names_the_format_version_and_layout() -> None:
    snapshot.check_header(snapshot.encode_header(snapshot.header(1, "2026-12-01T00:00:00Z")), 1)
    with pytest.raises(Unprocessable, match="HITS_SHARDS"):
        snapshot.check_header(snapshot.encode_header(snapshot.header(2, "2026-12-01T00:00:00Z")), 1)
    with pytest.raises(Unprocessable, match="version"):
        snapshot.check_header(b'{"format":"hitcounter-export","version":9}', 1)


def test_an_error_never_quotes_the_files_text() -> None:
    with pytest.raises(Unprocessable) as refused:
        snapshot.check_header(b'{"format":"hitcounter-export","version":"' + b"<b>" * 1000 + b'"}', 1)
    assert "<b>" not in refused.value.message and "<str>" in refused.value.message


def test_a_large_set_is_restored_over_several_calls_each_within_luas_unpack() -> None:
    from hitcounter.data.snapshot_store import LOAD_CHUNK, _writes

    pages = [f"p{i}" for i in range(2 * LOAD_CHUNK + 5)]
    calls = list(_writes(snapshot.Record("{pg:1}:pages", "legacy_registry", pages, None)))
    assert [mode for mode, _ in calls] == ["zadd"] * 3 and sum(len(v) for _, v in calls) == 2 * len(pages)
    registry = {page: i for i, page in enumerate(pages)}
    calls = list(_writes(snapshot.Record("{pg:1}:reg", "registry", registry, None)))
    assert [mode for mode, _ in calls] == ["zadd"] * 3 and sum(len(v) for _, v in calls) == 2 * len(pages)
    scores = {f"p{i}": i for i in range(LOAD_CHUNK + 1)}
    zadds = list(_writes(snapshot.Record("{pg:1}:top:20261201", "top", scores, None)))
    assert [len(v) for _, v in zadds] == [2 * LOAD_CHUNK, 2]  # score, member pairs
    assert list(_writes(snapshot.Record("{hits}:count", "count", 7, None))) == [("set", [7])]


def test_a_slots_registry_may_be_given_once() -> None:
    registries = snapshot.Registries()
    registries.add(snapshot.Record(f"{{pg:{HOME}}}:reg", "registry", {"home": 1}, None))
    registries.add(snapshot.Record("{hits}:count", "count", 1, None))
    with pytest.raises(Unprocessable, match="twice"):
        registries.add(snapshot.Record(f"{{pg:{HOME}}}:pages", "legacy_registry", ["home"], None))


def test_a_restore_stages_each_key_beside_itself_under_its_own_hash_tag() -> None:
    from hitcounter.data.snapshot_store import staged

    assert staged("{hits}:m:202612011530", "ab" * 16) == "{hits}:rst:abababababababab:m:202612011530"
    assert staged("{pg:7}:page:home:count", "cd" * 16) == "{pg:7}:rst:cdcdcdcdcdcdcdcd:page:home:count"
    assert staged("{pg:7}:pages", "cd" * 16) == "{pg:7}:rst:cdcdcdcdcdcdcdcd:reg"  # version 1's registry becomes ours
