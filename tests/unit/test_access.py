"""Who may read the numbers (``hitcounter.logic.access``) and how the settings say it."""

from __future__ import annotations

import hashlib

import pytest

from hitcounter.core.errors import ConfigError
from hitcounter.core.settings import load_settings
from hitcounter.logic import access

TOKEN, OTHER = "s3cret-token", "rotated-token"
DIGESTS = (hashlib.sha256(TOKEN.encode()).hexdigest(), hashlib.sha256(OTHER.encode()).hexdigest())


def test_public_needs_nothing() -> None:
    access.require_reader("public", (), None)


@pytest.mark.parametrize("offered", [TOKEN, OTHER])
def test_either_token_of_a_rotation_reads(offered: str) -> None:
    access.require_reader("token", DIGESTS, offered)


@pytest.mark.parametrize("offered", [None, "", "wrong", DIGESTS[0], TOKEN + " "])
def test_anything_else_is_refused(offered: str | None) -> None:
    with pytest.raises(access.TokenRequired) as refused:
        access.require_reader("token", DIGESTS, offered)
    assert refused.value.status == 401 and refused.value.code == "token_required"


def test_the_settings_hold_digests_and_refuse_a_lock_out() -> None:
    base = {"REDIS_URL": "redis://127.0.0.1:6379/0"}
    settings = load_settings(
        {**base, "STATS_ACCESS": "token", "STATS_TOKEN_SHA256": f" {DIGESTS[0].upper()} ,{DIGESTS[1]}"}
    )
    assert (settings.stats_access, settings.stats_token_sha256) == ("token", DIGESTS)
    with pytest.raises(ConfigError, match="needs STATS_TOKEN_SHA256"):
        load_settings({**base, "STATS_ACCESS": "token"})
    with pytest.raises(ConfigError, match="hex SHA-256"):
        load_settings({**base, "STATS_TOKEN_SHA256": TOKEN})
    with pytest.raises(ConfigError, match="STATS_ACCESS"):
        load_settings({**base, "STATS_ACCESS": "secret"})
