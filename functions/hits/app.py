"""Hit counter: the seed's Flask app as a Lambda function behind an HTTP API, and the
per-page counters site owners embed.

``GET /`` counts one hit with a single script and answers with its own INCR's reply, so two
concurrent requests never print the same number (the seed did INCR then GET). ``/pages/…``
count, draw and read each page apart, the same way; other origins may read them (the HTTP
API's CORS).
"""

from aws_lambda_powertools.event_handler import content_types
from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver, Response

from hitcounter.core.errors import AppError
from hitcounter.logic import counting, pages
from hitcounter.logic.stats import read_stats
from hitcounter.model import bots
from hitcounter.runtime import services
from hitcounter.web import api_docs, badge, contract, page_docs, request
from hitcounter.web.entry import entrypoint

app = APIGatewayHttpResolver()
contract.install(app)


@app.get("/", cache_control=contract.NO_STORE, summary="Count one hit", responses=api_docs.COUNT_HIT)
def hello() -> Response[str]:
    headers = request.headers(app.current_event)
    s = services()
    client = request.client(app.current_event, s.settings.edge_secret)
    hit = counting.count(s.hits, request.idempotency_key(headers), client)
    extra = {"Idempotent-Replayed": "true"} if hit.replayed else {}
    if request.wants_json(headers):
        return contract.json_response(200, {"hits": hit.total}, extra)
    return Response(200, content_types.TEXT_PLAIN, f"Hello World! {hit.total} times.", headers=extra | contract.NOSNIFF)


@app.get("/hits", cache_control=contract.NO_STORE, summary="Read the count", responses=api_docs.READ_HITS)
def current() -> Response[str]:
    return contract.json_response(200, {"hits": services().hits.count()})


@app.get(
    "/stats",
    cache_control=contract.HISTORY_CACHE,
    summary="The hit history: totals, unique visitors, the series",
    responses=api_docs.STATS,
)
def stats() -> Response[str]:
    event = app.current_event
    return contract.json_response(
        200, read_stats(services().hits, request.period(event), request.request_time_ms(event))
    )


@app.get(
    "/dashboard",
    cache_control=contract.HISTORY_CACHE,
    summary="The hit history as one HTML page",
    responses=api_docs.DASHBOARD,
)
def dashboard_page() -> Response[str]:
    from hitcounter.web import dashboard  # only this route pays for the renderer's import

    event = app.current_event
    period, now_ms = request.period(event), request.request_time_ms(event)
    page_id = request.page_param(event)
    if page_id is not None:  # one page's own view
        html = dashboard.render(pages.page_stats(services().pages, page_id, period, now_ms), [], page=page_id)
    else:
        data = read_stats(services().hits, period, now_ms, recent_imports=10)
        top_pages = pages.top_pages(services().pages, period, now_ms, pages.TOP_DEFAULT)["pages"]
        html = dashboard.render(data, data.pop("imports"), top_pages)
    return Response(200, "text/html; charset=utf-8", html, headers=dashboard.HEADERS)


@app.get("/health", cache_control=contract.NO_STORE, summary="Liveness", responses=api_docs.LIVENESS)
def health() -> Response[str]:
    # Liveness only: touches no backing service, so a Redis outage never marks us dead.
    return contract.json_response(200, {"status": "ok"})


@app.get(
    "/health/ready", cache_control=contract.NO_STORE, summary="Readiness: Redis answers", responses=api_docs.READINESS
)
def ready() -> Response[str]:
    return contract.json_response(200, {"status": "ok", "redis_ms": round(services().hits.ping_ms(), 3)})


# --- per-page counters ------------------------------------------------------------------


@app.get("/pages/<page>", cache_control=contract.NO_STORE, summary="Count one hit of a page", responses=page_docs.PAGE)
def hit(page: str) -> Response[str]:
    page = request.page_id(page)
    event = app.current_event
    headers = request.headers(event)
    s = services()
    client = request.client(event, s.settings.edge_secret)
    counted, extra = pages.count(s.pages, page, request.idempotency_key(headers), client)
    if counted.replayed:
        extra["Idempotent-Replayed"] = "true"
    if request.wants_text(headers):
        body = f"Hello World! {counted.total} times."
        return Response(200, content_types.TEXT_PLAIN, body, headers=extra | contract.NOSNIFF)
    return contract.json_response(200, {"page": page, "hits": counted.total}, extra)


@app.get("/pages/<page>/badge.svg", summary="A page's badge: counts one hit", responses=page_docs.BADGE)
def badge_svg(page: str) -> Response[str]:
    page = request.page_id(page)
    event = app.current_event
    label = badge.label_of(request.badge_label(event))
    counts = request.badge_counts(event)
    try:
        s = services()
        client = request.client(event, s.settings.edge_secret)
        value, refused = pages.badge_value(s.pages, page, client, counts)
    except AppError as err:  # the configuration itself is wrong: still a badge
        value, refused = None, err
    if refused is not None:
        contract.log_refused_badge(refused)
    # A badge that only shows may be kept a few seconds by a shared cache (the edge's), never by
    # a browser; one that counts, by nobody.
    headers = badge.HEADERS if counts else badge.SHOWN_HEADERS
    return Response(200, "image/svg+xml; charset=utf-8", badge.render(label, value), headers=headers)


@app.get(
    "/pages/<page>/stats",
    cache_control=contract.HISTORY_CACHE,
    summary="A page's history",
    responses=page_docs.PAGE_STATS,
)
def page_stats(page: str) -> Response[str]:
    event = app.current_event
    body = pages.page_stats(
        services().pages, request.page_id(page), request.period(event), request.request_time_ms(event)
    )
    return contract.json_response(200, body)


@app.get(
    "/pages", cache_control=contract.HISTORY_CACHE, summary="The period's top pages", responses=page_docs.TOP_PAGES
)
def top() -> Response[str]:
    event = app.current_event
    limit = request.limit(event, pages.TOP_DEFAULT, pages.TOP_MAX)
    body = pages.top_pages(services().pages, request.period(event), request.request_time_ms(event), limit)
    return contract.json_response(200, body)


@app.put(
    "/pages/<page>/count",
    cache_control=contract.NO_STORE,
    summary="Give a page its starting count (signed with AWS IAM)",
    responses=page_docs.SEED,
)
def seed(page: str) -> Response[str]:
    body = request.json_body(app.current_event, request.MAX_SEED_BODY)
    return contract.json_response(201, pages.seed(services().pages, request.page_id(page), body))


lambda_handler = entrypoint(app.resolve)

try:  # With SnapStart, the snapshot holds the compiled crawler list: no restored page hit pays it.
    from snapshot_restore_py import register_before_snapshot
except ImportError:  # not in Lambda's runtime, or not this runtime's version
    pass
else:
    register_before_snapshot(bots.prepare)
