"""Reading the environment: typed, bounded values, each refused with a ``ConfigError`` that
names the variable and says what it takes; and Redis's address as the variables give it
(``hitcounter.core.settings`` assembles the settings from these)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlsplit

from hitcounter.core.errors import ConfigError

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def first(env: Mapping[str, str], *names: str) -> tuple[str, str] | None:
    """The first of ``names`` that is set and non-empty, with its value."""
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return name, value
    return None


def flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {env[name]!r}")
    return value


def number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {raw!r}")
    return value


def whole(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = number(env, name, default, low, high)
    if value != int(value):
        raise ConfigError(f"{name} must be a whole number, got {env[name]!r}")
    return int(value)


def redis_url(env: Mapping[str, str]) -> str:
    """REDIS_URL wins when set (its scheme alone decides TLS); else host, port and REDIS_TLS."""
    url = env.get("REDIS_URL", "").strip()
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ConfigError("REDIS_URL must start with redis:// or rediss://")
        if not parts.hostname:
            raise ConfigError("REDIS_URL has no host")
        try:
            parts.port  # noqa: B018 - urllib validates the port lazily, on access
        except ValueError:
            raise ConfigError("REDIS_URL has an invalid port") from None
        return url

    # The seed app read HOST_REDIS / PORT_REDIS; accept them so its deployments carry over.
    host_var = first(env, "REDIS_HOST", "HOST_REDIS")
    host = host_var[1] if host_var else "127.0.0.1"
    if any(c in host for c in "/@:? ") and not host.startswith("["):
        raise ConfigError(f"{host_var[0] if host_var else 'REDIS_HOST'} must be a bare host name, got {host!r}")
    port_var = first(env, "REDIS_PORT", "PORT_REDIS")
    port = 6379
    if port_var:
        name, raw = port_var
        if not raw.isdigit() or not 1 <= int(raw) <= 65535:
            raise ConfigError(f"{name} must be a port number (1-65535), got {raw!r}")
        port = int(raw)
    scheme = "rediss" if flag(env, "REDIS_TLS", False) else "redis"
    return f"{scheme}://{quote(host, safe='[]:')}:{port}/0"


def cluster_seeds(env: Mapping[str, str]) -> tuple[tuple[str, int], ...]:
    """REDIS_CLUSTER_SEEDS: ``host:port`` pairs, comma-separated, tried after REDIS_URL's."""
    raw = env.get("REDIS_CLUSTER_SEEDS", "").strip()
    seeds: list[tuple[str, int]] = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        host, sep, port = item.rpartition(":")
        if not sep or not host or any(c in host for c in "/@? ") or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ConfigError("REDIS_CLUSTER_SEEDS must be host:port pairs separated by commas")
        seeds.append((host.strip("[]"), int(port)))
    if len(seeds) > 16:
        raise ConfigError("REDIS_CLUSTER_SEEDS takes at most 16 nodes")
    return tuple(seeds)
