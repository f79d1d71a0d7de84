"""The HTTP contract as a list of requests, and how SAM's local gateway is known to differ
from API Gateway: what the conformance tier feeds SAM's own event code and the real
`sam local` tier sends through Docker, against make dev's answers."""

from __future__ import annotations

import hashlib

from tests.support.http import person
from tests.support.routes import SIGNED_ROUTES

__all__ = ["CONTRACT", "CONTRACT_ENV", "KNOWN_DIFFERENCES", "SIGNED_ROUTES"]

# (method, path, headers, body). "{sid}" and "{import}" are filled from earlier answers.
# The functions' settings every tier of the contract runs with (the conformance tier, make
# dev, the real `sam local`): the owner's sites, so a hit from another site's page is refused
# alike everywhere (ALLOWED_ORIGINS; docs/operating.md).
# and the reads are the owner's (STATS_ACCESS=token: the contract's reads carry its token as a
# share link, since the tiers sign every request with SigV4's own Authorization header).
READER_TOKEN = "contract-reader-token"
CONTRACT_ENV = {
    "ALLOWED_ORIGINS": "blog.example.org,*.docs.example.org",
    "STATS_ACCESS": "token",
    "STATS_TOKEN_SHA256": hashlib.sha256(READER_TOKEN.encode()).hexdigest(),
}
FOREIGN, OURS = "https://copycat.example", "https://a.docs.example.org"

CONTRACT: list[tuple[str, str, dict[str, str], str | None]] = [
    ("GET", "/", {}, None),
    ("GET", "/", {"Accept": "application/json"}, None),
    ("GET", "/", {"Accept": "application/json", "Idempotency-Key": "order-1"}, None),
    ("GET", "/", {"Accept": "application/json", "Idempotency-Key": "order-1"}, None),
    ("GET", "/", {"Idempotency-Key": ""}, None),
    ("GET", "/", {"Accept": "text/html,application/json;q=0.9"}, None),
    ("GET", f"/hits?token={READER_TOKEN}", {}, None),
    ("GET", "/health", {}, None),
    ("GET", "/health/ready", {}, None),
    ("POST", "/session", {}, None),
    ("GET", "/session", {"Cookie": "__Host-sid={sid}"}, None),
    ("PUT", "/session", {"Cookie": "__Host-sid={sid}", "Content-Type": "application/json"}, '{"theme": "dark"}'),
    ("PUT", "/session", {"Cookie": "__Host-sid={sid}", "Content-Type": "application/json; charset=utf-8"}, "{nope"),
    ("PUT", "/session", {"Cookie": "__Host-sid={sid}", "Content-Type": "text/plain"}, "{}"),
    ("PUT", "/session", {"Cookie": "__Host-sid={sid}", "Content-Type": "application/json"}, '{"x": NaN}'),
    ("GET", "/session", {"Cookie": "__Host-sid={sid}"}, None),
    ("GET", "/session", {}, None),
    ("GET", "/session", {"Cookie": "__Host-sid=forged"}, None),
    ("DELETE", "/session", {"Cookie": "__Host-sid={sid}"}, None),
    ("GET", "/session", {"Cookie": "__Host-sid={sid}"}, None),
    ("POST", "/imports", {"Content-Type": "application/json"}, "{not json"),
    ("POST", "/imports", {"Content-Type": "application/json"}, "{}"),
    ("POST", "/imports", {"Content-Type": "application/json"}, '{"key": "other/x.log"}'),
    ("POST", "/imports", {"Content-Type": "application/json"}, '{"key": "logs/missing.log"}'),
    ("POST", "/imports", {"Content-Type": "text/plain"}, '{"key": "logs/x"}'),
    ("GET", "/imports/0123456789abcdef0123456789abcdef", {}, None),
    ("GET", "/imports/not-an-id", {}, None),
    ("GET", "/exports/0123456789abcdef0123456789abcdef", {}, None),
    ("GET", "/exports/not-an-id", {}, None),
    ("POST", "/restores", {"Content-Type": "application/json"}, '{"key": "logs/x.log"}'),
    ("POST", "/restores", {"Content-Type": "application/json"}, '{"key": "exports/missing.jsonl.gz"}'),
    ("POST", "/restores", {"Content-Type": "application/json"}, "{not json"),
    ("GET", "/restores/0123456789abcdef0123456789abcdef", {}, None),
    ("GET", "/openapi.json", {}, None),
    ("GET", "/count.js", {}, None),
    ("GET", "/pages/blog.post-1", {**person(1), "Accept": "application/json"}, None),
    ("GET", "/pages/blog.post-1", {**person(2), "Accept": "text/plain"}, None),
    ("GET", "/pages/blog.post-1", {**person(3), "Accept": "application/json", "Idempotency-Key": "page-1"}, None),
    ("GET", "/pages/blog.post-1", {**person(3), "Accept": "application/json", "Idempotency-Key": "page-1"}, None),
    ("GET", "/pages/blog.post-1/badge.svg", person(4), None),
    # Another site's page counting into ours (ALLOWED_ORIGINS): nothing counted, the badge still drawn.
    (
        "GET",
        "/pages/blog.post-1",
        {**person(10), "Accept": "application/json", "Origin": "https://copycat.example"},
        None,
    ),
    ("GET", "/pages/blog.post-1/badge.svg", {**person(11), "Referer": "https://copycat.example/post"}, None),
    (
        "GET",
        "/pages/blog.post-1",
        {**person(12), "Accept": "application/json", "Origin": "https://a.docs.example.org"},
        None,
    ),
    ("GET", "/pages/blog.post-1/badge.svg?count=false&style=plastic&metric=today&abbreviate=true", person(4), None),
    # A crawler: answered the current count, tallied under the page's bots.
    ("GET", "/pages/blog.post-1", {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"}, None),
    ("GET", "/pages/<b>x", {}, None),
    ("GET", f"/pages/blog.post-1/stats?token={READER_TOKEN}", {}, None),
    # Pages named by their path: two spellings of one path are one page.
    ("GET", "/count?path=%2F2024%2F05%2Fhello-world%2F", {**person(6), "Accept": "application/json"}, None),
    ("GET", "/count?path=%2F2024%2F05%2F.%2Fhello-world%2F%2F", {**person(7), "Accept": "application/json"}, None),
    # From a site another page linked to (count.js's r): its host kept for the page's stats.
    (
        "GET",
        "/count?path=%2Ffrom-hn%2F&r=https%3A%2F%2Fnews.ycombinator.com%2Fitem%3Fid%3D1",
        {**person(13), "Accept": "application/json", "Origin": "https://a.docs.example.org"},
        None,
    ),
    ("GET", f"/stats?path=%2Ffrom-hn%2F&token={READER_TOKEN}", {}, None),
    ("GET", "/count?path=no-slash", {**person(8), "Accept": "application/json"}, None),
    ("GET", "/count", {**person(8), "Accept": "application/json"}, None),
    ("GET", "/badge.svg?path=%2F2024%2F05%2Fhello-world%2F&count=false", person(9), None),
    ("GET", f"/stats?path=%2F2024%2F05%2Fhello-world%2F&token={READER_TOKEN}", {}, None),
    ("GET", f"/pages?token={READER_TOKEN}", {}, None),
    ("GET", "/pages?token=wrong", {}, None),
    ("PUT", "/pages/seeded/count", {"Content-Type": "application/json"}, '{"hits": 1000}'),
    ("PUT", "/pages/seeded/count", {"Content-Type": "application/json"}, '{"hits": 5}'),
    ("PUT", "/pages/other/count", {"Content-Type": "application/json"}, '{"hits": -1}'),
    ("GET", "/pages/seeded", {**person(5), "Accept": "application/json"}, None),
    # An operator lists every page, a cursor at a time, and deletes one (then it is gone: 404).
    ("GET", "/admin/pages?limit=2", {}, None),
    ("GET", "/admin/pages?cursor=bogus", {}, None),
    ("DELETE", "/pages/seeded", {}, None),
    ("DELETE", "/pages/seeded", {}, None),
    ("DELETE", "/count?path=%2F2024%2F05%2Fhello-world%2F", {}, None),
    ("DELETE", "/count?path=%2Fnever%2F", {}, None),
    # After the hits above: the history (30 days by day: the same answer unless a UTC midnight
    # passes between the runs) and the page made of it.
    ("GET", f"/stats?token={READER_TOKEN}", {}, None),
    ("GET", f"/dashboard?token={READER_TOKEN}", {}, None),
    ("GET", "/hits", {}, None),  # STATS_ACCESS=token: 401 without the owner's token
]

# Differences between SAM's local gateway and API Gateway (which make dev follows), each with
# why; the test below checks each still holds.
KNOWN_DIFFERENCES = {
    "header-case": "SAM keeps the client's header case (Accept, Content-Type); API Gateway lower-cases. "
    "The handlers read headers case-insensitively, so answers agree; the events differ.",
    "duplicate-cookies": "SAM builds `cookies` from Flask's parsed cookie dict: of two `sid` cookies only the "
    "first reaches the function. API Gateway passes both, and the first live one wins.",
    "forwarded-headers": "SAM adds X-Forwarded-Proto and X-Forwarded-Port; API Gateway adds X-Forwarded-For too.",
    "unknown-route": "SAM answers an undeclared route with REST API's 403 Missing Authentication Token; "
    'an HTTP API (and make dev) answers 404 {"message":"Not Found"}. Not a function\'s answer: '
    "see docs/local-development.md.",
    "cors-preflight-status": "SAM answers a CORS preflight with 200; an HTTP API (and make dev) with 204 No "
    "Content. The CORS headers agree, so a browser treats both alike.",
    "time-epoch-seconds": "SAM's HTTP API events carry requestContext.timeEpoch in seconds; API Gateway's (and "
    "make dev's) in milliseconds. The history reads a value below 10^11 as seconds (as milliseconds it would "
    "be before March 1973), so the buckets agree.",
}
