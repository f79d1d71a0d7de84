"""Configuration comes from the environment only, validated once, errors naming the variable."""

from __future__ import annotations

import pytest

from hitcounter.core.errors import ConfigError
from hitcounter.core.settings import load_settings


def test_defaults_are_a_local_redis_with_sub_second_timeouts() -> None:
    s = load_settings({})
    assert s.redis.url == "redis://127.0.0.1:6379/0"
    assert s.redis.connect_timeout <= 1 and s.redis.command_timeout <= 1
    assert s.redis.health_check_interval > 0
    assert s.key_prefix == ""


def test_redis_url_wins_over_host_and_port() -> None:
    s = load_settings(
        {"REDIS_URL": "rediss://user:pw@cache.example:6380/0", "REDIS_HOST": "other", "REDIS_TLS": "false"}
    )
    assert s.redis.url == "rediss://user:pw@cache.example:6380/0"
    assert s.redis.tls
    assert s.redis.safe_url == "rediss://cache.example:6380/0"  # no credentials in logs


def test_host_port_tls_and_the_seed_names() -> None:
    assert load_settings({"REDIS_HOST": "cache", "REDIS_PORT": "6380", "REDIS_TLS": "true"}).redis.url == (
        "rediss://cache:6380/0"
    )
    # The seed app's HOST_REDIS / PORT_REDIS still work; REDIS_* win when both are set.
    assert load_settings({"HOST_REDIS": "redis", "PORT_REDIS": "7000"}).redis.url == "redis://redis:7000/0"
    assert load_settings({"HOST_REDIS": "a", "REDIS_HOST": "b"}).redis.url == "redis://b:6379/0"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"REDIS_URL": "redis://"}, "REDIS_URL"),
        ({"REDIS_URL": "redis://h:99999"}, "REDIS_URL"),
        ({"REDIS_PORT": "abc"}, "REDIS_PORT"),
        ({"PORT_REDIS": "0"}, "PORT_REDIS"),
        ({"REDIS_HOST": "a b"}, "REDIS_HOST"),
        ({"REDIS_TLS": "maybe"}, "REDIS_TLS"),
        ({"REDIS_CONNECT_TIMEOUT": "soon"}, "REDIS_CONNECT_TIMEOUT"),
        ({"REDIS_COMMAND_TIMEOUT": "60"}, "REDIS_COMMAND_TIMEOUT"),
        ({"REDIS_HEALTH_CHECK_INTERVAL": "-1"}, "REDIS_HEALTH_CHECK_INTERVAL"),
        ({"RETRY_AFTER_SECONDS": "1.5"}, "RETRY_AFTER_SECONDS"),
        ({"KEY_PREFIX": "{dev}"}, "KEY_PREFIX"),
    ],
)
def test_invalid_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert str(info.value).startswith(variable)


def test_url_errors_do_not_echo_the_url() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"REDIS_URL": "http://user:hunter2@host"})
    assert "hunter2" not in str(info.value)
