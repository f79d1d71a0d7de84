"""The API's routes as the tests know them: one entry per route of ``template.yaml`` (which
stays the source of truth), saying what the tests need of it. Every list of routes in the
suite is read from here, and ``tests/test_template.py`` fails naming any template route
without an entry, or any entry the template does not declare. A new route gets its entry
here (CONTRIBUTING.md, "Add a route")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RouteSpec:
    """``function``: the template's function that serves it; ``event``: its API Gateway event
    in ``events/`` (what ``sam local invoke -e`` and the tests send); ``signed``: API
    Gateway's IAM authorizer guards it (SigV4); ``redis_down``: its status while Redis is
    unreachable when invoked in process with only Redis away (None: it needs another
    backing service first, S3 or the worker, and ``tests/test_imports.py`` holds it);
    ``throttle``: its bucket class in the stage's route settings (``root``: GET /'s own,
    ``page``: what site owners embed, ``history``: the reads, ``route``: the default)."""

    function: str
    event: str
    signed: bool = False
    redis_down: int | None = 503
    throttle: str = "route"


ROUTES: dict[tuple[str, str], RouteSpec] = {
    # The seed's counter, its reads and health.
    ("GET", "/"): RouteSpec("HitsFunction", "hits/get-root", throttle="root"),
    ("GET", "/hits"): RouteSpec("HitsFunction", "hits/get-hits"),
    ("GET", "/health"): RouteSpec("HitsFunction", "hits/get-health", redis_down=200),  # liveness touches nothing
    ("GET", "/health/ready"): RouteSpec("HitsFunction", "hits/get-health-ready"),
    ("GET", "/stats"): RouteSpec("HitsFunction", "hits/get-stats", throttle="history"),
    ("GET", "/dashboard"): RouteSpec("HitsFunction", "hits/get-dashboard", throttle="history"),
    # Pages.
    ("GET", "/pages/{page}"): RouteSpec("HitsFunction", "hits/get-page", throttle="page"),
    ("GET", "/pages/{page}/badge.svg"): RouteSpec(
        "HitsFunction",
        "hits/get-page-badge",
        redis_down=200,
        throttle="page",  # a dash
    ),
    ("GET", "/pages/{page}/stats"): RouteSpec("HitsFunction", "hits/get-page-stats", throttle="history"),
    ("GET", "/count"): RouteSpec("HitsFunction", "hits/get-count", throttle="page"),
    ("GET", "/badge.svg"): RouteSpec("HitsFunction", "hits/get-path-badge", redis_down=200, throttle="page"),
    ("GET", "/pages"): RouteSpec("HitsFunction", "hits/get-top-pages", throttle="history"),
    ("PUT", "/pages/{page}/count"): RouteSpec("HitsFunction", "hits/put-page-count", signed=True),
    ("GET", "/admin/pages"): RouteSpec("HitsFunction", "hits/get-admin-pages", signed=True),
    ("DELETE", "/pages/{page}"): RouteSpec("HitsFunction", "hits/delete-page", signed=True),
    ("DELETE", "/count"): RouteSpec("HitsFunction", "hits/delete-path-page", signed=True),
    # Sessions.
    ("POST", "/session"): RouteSpec("SessionFunction", "session/post-session"),
    ("GET", "/session"): RouteSpec("SessionFunction", "session/get-session"),
    ("PUT", "/session"): RouteSpec("SessionFunction", "session/put-session"),
    ("DELETE", "/session"): RouteSpec("SessionFunction", "session/delete-session"),
    # Imports, exports, restores: the operators', signed.
    ("POST", "/imports"): RouteSpec("ImportsFunction", "imports/post-import", signed=True, redis_down=None),
    ("GET", "/imports/{id}"): RouteSpec("ImportsFunction", "imports/get-import", signed=True),
    ("POST", "/exports"): RouteSpec("ImportsFunction", "imports/post-export", signed=True, redis_down=None),
    ("GET", "/exports/{id}"): RouteSpec("ImportsFunction", "imports/get-export", signed=True),
    ("POST", "/restores"): RouteSpec("ImportsFunction", "imports/post-restore", signed=True, redis_down=None),
    ("GET", "/restores/{id}"): RouteSpec("ImportsFunction", "imports/get-restore", signed=True),
    # The API's own description.
    ("GET", "/openapi.json"): RouteSpec("DocsFunction", "docs/get-openapi", redis_down=200),
    ("GET", "/count.js"): RouteSpec("DocsFunction", "docs/get-count-js", redis_down=200, throttle="page"),
}

SIGNED_ROUTES = {route for route, spec in ROUTES.items() if spec.signed}
