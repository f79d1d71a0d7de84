"""``EdgeProtection`` for ``make dev``: what the template puts in front of the HTTP API when
the parameter is on (CloudFront with an AWS WAF web ACL), emulated as the route throttles
are, so a flood can be tried on a laptop. Three parts, in CloudFront's order:

* the WAF rate-based rules: at most ``EdgeRateLimit`` requests from one client address in
  any 60 s (the rules' ``EvaluationWindowSec``), ``EdgeProxyRateLimit`` for those whose
  User-Agent is GitHub's image proxy (``github-camo…``, which fetches README badges for every
  reader from a few addresses), past which the edge answers the rules' custom ``429``
  itself; every request counts, cached answers too (WAF inspects each viewer request before
  CloudFront looks in its cache). The real WAF checks the rate "frequently", not on every
  request, so it lets a flood through for a few seconds more than this does;
* the cache of the badge behaviours (``/pages/*/badge.svg``, ``/badge.svg``): an answer whose
  ``Cache-Control`` allows a shared cache (``s-maxage``, or ``max-age`` without
  ``no-store``/``no-cache``/``private``) is kept that long, at most the cache policy's
  ``MaxTTL`` (10 s), keyed on the path and the query strings the policy names. Badges that
  count say ``no-store``: never kept;
* the origin request: CloudFront's address as API Gateway's ``sourceIp``, the viewer's in
  ``CloudFront-Viewer-Address`` (``IP:port``), and the origin secret in ``X-Origin-Verify``,
  which is what lets the function trust that header.

Bounded: the clients' logs hold at most ``EdgeRateLimit`` times each entry, and the cache
and the client table are LRU-capped.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

# What the cache behaviour of the template keys badges on (EdgeBadgeCachePolicy).
BADGE_PATH = re.compile(r"^(?:/pages/[^/]+)?/badge\.svg$")
CACHE_KEY_QUERY = ("count", "label", "path")
MAX_TTL = 10.0
WINDOW = 60.0
# The address API Gateway sees for a request CloudFront forwards (one of CloudFront's own,
# here a loopback one so nothing leaves the machine).
EDGE_ADDRESS = "127.0.0.254"
_MAX_CLIENTS = 100_000
_MAX_ENTRIES = 10_000
_SHARED = re.compile(r"(?:^|,)\s*s-maxage\s*=\s*(\d+)", re.I)
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.I)
_PRIVATE = re.compile(r"(?:^|,)\s*(no-store|no-cache|private)\b", re.I)


@dataclass
class _Kept:
    expires: float
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Edge:
    rate_limit: int
    secret: str
    proxy_rate_limit: int = 1200
    _clients: OrderedDict[tuple[str, bool], deque[float]] = field(default_factory=OrderedDict)
    _cache: OrderedDict[tuple[str, tuple[tuple[str, str], ...]], _Kept] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_params(cls, params: Mapping[str, Any], secret: str) -> Edge:
        """The edge as the template's parameters set it (their defaults, or make dev's overrides)."""
        return cls(
            int(str(params.get("EdgeRateLimit") or 100)), secret, int(str(params.get("EdgeProxyRateLimit") or 1200))
        )

    def admit(self, client: str, user_agent: str = "", now: float | None = None) -> bool:
        """The WAF rules: False once ``client`` has sent its limit in the last 60 s (GitHub's
        image proxy's agent is counted apart, against its own limit, as the rules' scope-down
        statements split them)."""
        proxy = user_agent.lower().startswith("github-camo")
        limit = self.proxy_rate_limit if proxy else self.rate_limit
        now = time.monotonic() if now is None else now
        with self._lock:
            log = self._clients.pop((client, proxy), None) or deque()
            while log and log[0] <= now - WINDOW:
                log.popleft()
            allowed = len(log) < limit
            if allowed:
                log.append(now)
            self._clients[(client, proxy)] = log
            while len(self._clients) > _MAX_CLIENTS:
                self._clients.popitem(last=False)
        return allowed

    @staticmethod
    def blocked() -> Response:
        """The rule's custom response (the template's ``TooManyRequests`` body)."""
        return Response(b'{"message":"Too Many Requests"}', 429, {"Retry-After": "60"}, content_type="application/json")

    def _key(self, request: Request) -> tuple[str, tuple[tuple[str, str], ...]] | None:
        if request.method not in ("GET", "HEAD") or not BADGE_PATH.match(request.path):
            return None
        return request.path, tuple((k, request.args.get(k, "")) for k in CACHE_KEY_QUERY if k in request.args)

    def lookup(self, request: Request, now: float | None = None) -> Response | None:
        key = self._key(request)
        if key is None:
            return None
        now = time.monotonic() if now is None else now
        with self._lock:
            kept = self._cache.get(key)
            if kept is None or kept.expires <= now:
                return None
            self._cache.move_to_end(key)
        response = Response(kept.body, kept.status, kept.headers)
        response.headers["X-Cache"] = "Hit from cloudfront"
        return response

    def keep(self, request: Request, response: Response, now: float | None = None) -> None:
        key = self._key(request)
        if key is None or response.status_code != 200:
            return
        control = response.headers.get("Cache-Control", "")
        shared = _SHARED.search(control)
        ttl = float(shared[1]) if shared else None
        if ttl is None and not _PRIVATE.search(control):
            plain = _MAX_AGE.search(control)
            ttl = float(plain[1]) if plain else None
        if not ttl:
            return
        now = time.monotonic() if now is None else now
        kept = _Kept(now + min(ttl, MAX_TTL), response.status_code, list(response.headers.items()), response.get_data())
        with self._lock:
            self._cache[key] = kept
            while len(self._cache) > _MAX_ENTRIES:
                self._cache.popitem(last=False)

    def origin_headers(self, request: Request) -> dict[str, str]:
        """What CloudFront adds to the request it sends the API (the origin request policy's
        ``CloudFront-Viewer-Address``, the distribution's origin custom header)."""
        client = request.remote_addr or "127.0.0.1"
        port = str(request.environ.get("REMOTE_PORT") or 0)
        return {"cloudfront-viewer-address": f"{client}:{port}", "x-origin-verify": self.secret}
