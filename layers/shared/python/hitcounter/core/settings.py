"""Configuration, read from the environment once per execution environment.

Twelve-factor config: nothing here is hard-coded per stage. Every variable is declared in
``template.yaml`` so ``sam local start-api --env-vars env.json`` can override it, and each
validation error names the variable so a misconfigured stack says what to fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from hitcounter.core.env import choice, cluster_seeds, flag, number, redis_url, whole
from hitcounter.core.errors import ConfigError


class RedisSettings(NamedTuple):
    url: str  # always a full redis:// or rediss:// URL, whichever variables it came from
    connect_timeout: float
    command_timeout: float
    health_check_interval: float  # seconds; redis-py accepts fractions
    cluster: bool = False
    ca_file: str | None = None  # None: the system's CA bundle
    auth: str = "none"  # none | iam | secret (a password in REDIS_URL works with none)
    username: str | None = None
    iam_cache_name: str = ""
    iam_serverless: bool = True
    secret_id: str = ""
    region: str = ""
    cluster_seeds: tuple[tuple[str, int], ...] = ()  # more seed nodes than REDIS_URL's host

    @property
    def tls(self) -> bool:
        return self.url.startswith("rediss://")

    @property
    def safe_url(self) -> str:
        """The URL without credentials, fit for a log line."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"


class ImportLimits(NamedTuple):
    max_object_bytes: int  # downloaded (as stored, compressed or not)
    max_decompressed_bytes: int  # read after decompression
    max_line_bytes: int  # a longer line is malformed, read in chunks, never held
    time_margin_ms: int  # stop while this much of the invocation's time is left
    worker_function: str  # the function POST /imports hands the work to (async invoke)
    stale_seconds: int  # a pending/running import older than this is started again
    per_day: int  # imports started a day (UTC) at most: what bounds the ledger's size


# The page routes' accuracy rules by default (docs/pages.md says why these numbers).
DEDUPE_SECONDS = 5
RATE_LIMIT_PER_MINUTE = 60
PAGE_IDLE_DAYS = 365
NEW_PAGES_PER_CLIENT_MINUTE = 10
NEW_PAGES_PER_CLIENT_DAY = 100
IMAGE_PROXY_HITS_PER_PAGE_MINUTE = 120


class PageSettings(NamedTuple):
    pages_max: int  # pages created by their first hit, at most (a new one past it is refused)
    # A visitor's reloads of a page within this many seconds of their counted hit count
    # nothing (0: off).
    dedupe_seconds: int
    # Counted page hits per client (source IP) in any 60 s, at most, per slot (0: off).
    rate_limit_per_minute: int
    # A page nobody counted for this many days leaves the registry (its share of PAGES_MAX
    # is free again) and its count expires.
    page_idle_days: int = PAGE_IDLE_DAYS
    # New pages one client may create in any 60 s and in any 24 h, across all slots (0: off).
    new_pages_per_minute: int = NEW_PAGES_PER_CLIENT_MINUTE
    new_pages_per_day: int = NEW_PAGES_PER_CLIENT_DAY
    # An image proxy's (GitHub's camo, Gmail's, Yahoo Mail's) counted fetches per page in any
    # clock minute: each is one reader, but anyone can send its agent (0: no exception for them).
    proxy_hits_per_minute: int = IMAGE_PROXY_HITS_PER_PAGE_MINUTE
    # The owner's rules, as written (hitcounter.model.owners reads them): the hosts whose pages
    # count (empty: any), and the address ranges whose page hits never count.
    allowed_origins: str = ""
    exclude_cidrs: str = ""
    # PAGES_CREATE: "open" (a first hit makes a page) or "listed" (only a seeded page, or
    # one PAGES_ALLOW names).
    pages_create: str = "open"
    pages_allow: str = ""


class Settings(NamedTuple):
    redis: RedisSettings
    key_prefix: str
    retry_after_seconds: int
    session_ttl_seconds: int
    idempotency_ttl_seconds: int
    hits_shards: int
    imports_bucket: str  # empty where the function does no imports
    imports_prefix: str
    exports_prefix: str  # where exports are written, and the only place a restore reads
    scratch_dir: Path
    imports: ImportLimits
    pages: PageSettings
    # Who may read the numbers: "public", or "token" (a request carrying a token whose SHA-256
    # is one of stats_token_sha256; hitcounter.logic.access).
    stats_access: str = "public"
    stats_token_sha256: tuple[str, ...] = ()
    # The secret CloudFront adds to every request it sends (EdgeProtection): only a request
    # carrying it has its viewer's address read from CloudFront-Viewer-Address ("" : no edge).
    edge_secret: str = ""


def retry_after_seconds(env: Mapping[str, str] | None = None) -> int:
    """RETRY_AFTER_SECONDS alone: a 503 answers with it even when other variables are wrong."""
    return whole(os.environ if env is None else env, "RETRY_AFTER_SECONDS", 1, 1, 3600)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Parse and validate the environment. Raises ConfigError naming the bad variable."""
    env = os.environ if env is None else env
    url = redis_url(env)
    mode = choice(env, "REDIS_MODE", ("standalone", "cluster"), "standalone")
    seeds = cluster_seeds(env)
    if seeds and mode != "cluster":
        raise ConfigError("REDIS_CLUSTER_SEEDS is only for REDIS_MODE=cluster")
    auth = choice(env, "REDIS_AUTH", ("none", "iam", "secret"), "none")
    ca_file = env.get("REDIS_CA_FILE", "").strip() or None
    if ca_file and not Path(ca_file).is_file():
        raise ConfigError(f"REDIS_CA_FILE names no readable file: {ca_file!r}")
    username = env.get("REDIS_USERNAME", "").strip() or None
    region = (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "").strip()
    if auth == "iam":
        # ElastiCache IAM auth: TLS, a user, and the cache the token is signed for.
        if not url.startswith("rediss://"):
            raise ConfigError("REDIS_AUTH=iam needs TLS: set REDIS_TLS=true (or a rediss:// REDIS_URL)")
        if not username:
            raise ConfigError("REDIS_AUTH=iam needs REDIS_USERNAME (the ElastiCache user id)")
        if not env.get("REDIS_IAM_CACHE_NAME", "").strip():
            raise ConfigError("REDIS_AUTH=iam needs REDIS_IAM_CACHE_NAME (the cache or replication group name)")
        if not region:
            raise ConfigError("REDIS_AUTH=iam needs AWS_REGION")
    if auth == "secret" and not env.get("REDIS_SECRET_ID", "").strip():
        raise ConfigError("REDIS_AUTH=secret needs REDIS_SECRET_ID (a secret holding username and password)")
    prefix = env.get("KEY_PREFIX", "").strip()
    if any(c.isspace() or c in "{}" for c in prefix) or len(prefix) > 64:
        # Braces would break the hash tags the store relies on for cluster mode.
        raise ConfigError("KEY_PREFIX must be at most 64 characters with no spaces or braces")
    return Settings(
        redis=RedisSettings(
            url=url,
            # Both well under the function timeout, so an unreachable Redis becomes a
            # quick 503 rather than a Lambda timeout (which API Gateway turns into a 503
            # only after the full function timeout, and bills for it).
            connect_timeout=number(env, "REDIS_CONNECT_TIMEOUT", 0.5, 0.05, 5),
            command_timeout=number(env, "REDIS_COMMAND_TIMEOUT", 0.5, 0.05, 5),
            health_check_interval=number(env, "REDIS_HEALTH_CHECK_INTERVAL", 15, 0, 3600),
            cluster=mode == "cluster",
            ca_file=ca_file,
            auth=auth,
            username=username,
            iam_cache_name=env.get("REDIS_IAM_CACHE_NAME", "").strip().lower(),
            iam_serverless=flag(env, "REDIS_IAM_SERVERLESS", True),
            secret_id=env.get("REDIS_SECRET_ID", "").strip(),
            region=region,
            cluster_seeds=seeds,
        ),
        key_prefix=prefix,
        retry_after_seconds=retry_after_seconds(env),
        session_ttl_seconds=whole(env, "SESSION_TTL_SECONDS", 1800, 1, 2 * 3600),
        idempotency_ttl_seconds=whole(env, "IDEMPOTENCY_TTL_SECONDS", 86400, 1, 30 * 86400),
        hits_shards=whole(env, "HITS_SHARDS", 1, 1, 1024),
        imports_bucket=env.get("IMPORTS_BUCKET", "").strip(),
        imports_prefix=env.get("IMPORTS_PREFIX", "logs/").strip(),
        exports_prefix=_exports_prefix(env),
        scratch_dir=_scratch_dir(env),
        pages=PageSettings(
            # 64 slots share it, ceil(PAGES_MAX / 64) each (hitcounter.model.keys): below 64 the
            # shares would hold more than asked.
            pages_max=whole(env, "PAGES_MAX", 10_000, 64, 1_000_000),
            dedupe_seconds=whole(env, "DEDUPE_SECONDS", DEDUPE_SECONDS, 0, 3600),
            rate_limit_per_minute=whole(env, "RATE_LIMIT_PER_MINUTE", RATE_LIMIT_PER_MINUTE, 0, 100_000),
            page_idle_days=whole(env, "PAGE_IDLE_DAYS", PAGE_IDLE_DAYS, 1, 3650),
            new_pages_per_minute=whole(env, "NEW_PAGES_PER_CLIENT_MINUTE", NEW_PAGES_PER_CLIENT_MINUTE, 0, 100_000),
            new_pages_per_day=whole(env, "NEW_PAGES_PER_CLIENT_DAY", NEW_PAGES_PER_CLIENT_DAY, 0, 1_000_000),
            proxy_hits_per_minute=whole(
                env, "IMAGE_PROXY_HITS_PER_PAGE_MINUTE", IMAGE_PROXY_HITS_PER_PAGE_MINUTE, 0, 100_000
            ),
            allowed_origins=env.get("ALLOWED_ORIGINS", "").strip()[:4096],
            exclude_cidrs=env.get("EXCLUDE_CIDRS", "").strip()[:4096],
            pages_create=choice(env, "PAGES_CREATE", ("open", "listed"), "open"),
            pages_allow=env.get("PAGES_ALLOW", "").strip()[:8192],
        ),
        stats_access=choice(env, "STATS_ACCESS", ("public", "token"), "public"),
        stats_token_sha256=_token_digests(env),
        edge_secret=_edge_secret(env),
        imports=ImportLimits(
            max_object_bytes=whole(env, "IMPORT_MAX_OBJECT_BYTES", 1024**3, 1, 10 * 1024**3),
            max_decompressed_bytes=whole(env, "IMPORT_MAX_DECOMPRESSED_BYTES", 2 * 1024**3, 1, 100 * 1024**3),
            max_line_bytes=whole(env, "IMPORT_MAX_LINE_BYTES", 8192, 256, 1024 * 1024),
            time_margin_ms=whole(env, "IMPORT_TIME_MARGIN_MS", 5000, 0, 60_000),
            worker_function=env.get("IMPORT_WORKER_FUNCTION", "").strip(),
            stale_seconds=whole(env, "IMPORT_STALE_SECONDS", 960, 1, 86400),
            per_day=whole(env, "IMPORTS_PER_DAY", 200, 1, 100_000),
        ),
    )


_DIGEST = re.compile(r"[0-9a-f]{64}")


def _token_digests(env: Mapping[str, str]) -> tuple[str, ...]:
    """``STATS_TOKEN_SHA256``: the hex SHA-256 digests of the accepted tokens, comma-separated
    (two during a rotation); ``STATS_ACCESS=token`` without one would lock every reader out."""
    digests = tuple(d.strip().lower() for d in env.get("STATS_TOKEN_SHA256", "").split(",") if d.strip())
    if any(not _DIGEST.fullmatch(d) for d in digests) or len(digests) > 10:
        raise ConfigError("STATS_TOKEN_SHA256 must be up to 10 hex SHA-256 digests, comma-separated")
    if env.get("STATS_ACCESS", "public").strip() == "token" and not digests:
        raise ConfigError("STATS_ACCESS=token needs STATS_TOKEN_SHA256: the digest of at least one token")
    return digests


def _edge_secret(env: Mapping[str, str]) -> str:
    secret = env.get("EDGE_ORIGIN_SECRET", "").strip()
    if secret and (len(secret) < 32 or not secret.isascii() or not secret.isalnum()):
        raise ConfigError("EDGE_ORIGIN_SECRET must be at least 32 letters and digits (the stack generates it)")
    return secret


def _exports_prefix(env: Mapping[str, str]) -> str:
    """Where exports go: a folder of its own, never inside the imports' (an export landing
    under logs/ would be imported as an access log by the bucket's trigger)."""
    prefix = env.get("EXPORTS_PREFIX", "exports/").strip()
    imports = env.get("IMPORTS_PREFIX", "logs/").strip()
    if not prefix.endswith("/") or prefix == "/" or prefix.startswith(imports) or imports.startswith(prefix):
        raise ConfigError(f"EXPORTS_PREFIX must be a folder (ending in /) apart from IMPORTS_PREFIX, got {prefix!r}")
    return prefix


def _scratch_dir(env: Mapping[str, str]) -> Path:
    raw = env.get("SCRATCH_DIR", "").strip() or "/tmp"  # noqa: S108 - Lambda's only writable disk
    path = Path(raw)
    if not path.is_absolute():
        raise ConfigError(f"SCRATCH_DIR must be an absolute path, got {raw!r}")
    return path
