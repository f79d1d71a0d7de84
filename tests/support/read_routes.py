"""The read routes of the hits function over a few pages, shared by the read-waits test and
``make bench``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.support.events import Invoke, page_event, path_event, stats_event


def read_routes(invoke: Invoke) -> dict[str, Callable[[], object]]:
    """Three pages with referred hits and a path page's, then each read route of the hits
    function as a call that checks its answer: what tests/test_read_waits.py and make bench
    count the waits of (the day's first call makes the period's unions)."""
    now = int(time.time() * 1000)

    def ok(event: dict[str, Any]) -> None:
        event["requestContext"]["timeEpoch"] = now
        assert invoke(event)["statusCode"] == 200

    def route(route_path: str, **query: str) -> Callable[[], object]:
        def read() -> None:
            event = stats_event(now, "30d", route_path)
            event["routeKey"] = event["requestContext"]["routeKey"] = f"GET {route_path}"
            event["queryStringParameters"].update(query)
            ok(event)

        return read

    for page in ("a", "b", "c"):
        for _ in range(3):
            ok(page_event(page, query={"r": "https://news.ycombinator.com/"}))
    ok(path_event("/blog/", query={"r": "https://news.ycombinator.com/"}))
    return {
        "/stats": route("/stats"),
        "/stats?path=": route("/stats", path="/blog/"),
        "/pages": route("/pages"),
        "/pages/{page}/stats": lambda: ok(page_event("a", "/stats", {"period": "30d"})),
        "/dashboard": route("/dashboard"),
    }
