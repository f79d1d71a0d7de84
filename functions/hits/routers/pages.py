"""Per-page counters: count a page, draw its badge, read its history, the period's top pages,
and (signed) give a page its starting count. Other origins may read them (the HTTP API's
CORS)."""

from aws_lambda_powertools.event_handler import content_types
from aws_lambda_powertools.event_handler.api_gateway import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from hitcounter.core.errors import AppError
from hitcounter.logic import page_admin, pages
from hitcounter.runtime import services
from hitcounter.web import badge, bodies, contract, csv_answers, page_docs, request
from routers import require_reader

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # its __init__ has no annotations


@router.get(
    "/pages/<page>", cache_control=contract.NO_STORE, summary="Count one hit of a page", responses=page_docs.PAGE
)
def hit(page: str) -> Response[str]:
    page = request.page_id(page)
    event = router.current_event
    headers = request.headers(event)
    s = services()
    client = request.client(event, s.settings.edge_secret)
    came_from = request.query(event).get("r")
    counted, extra = pages.count(
        s.pages, page, request.idempotency_key(headers), client, owner=s.owner, came_from=came_from
    )
    if counted.replayed:
        extra["Idempotent-Replayed"] = "true"
    if request.wants_text(headers):
        body = f"Hello World! {counted.total} times."
        return Response(200, content_types.TEXT_PLAIN, body, headers=extra | contract.NOSNIFF)
    return contract.json_response(200, {"page": page, "hits": counted.total}, extra)


@router.get(
    "/count",
    cache_control=contract.NO_STORE,
    summary="Count one hit of a page named by its path",
    responses=page_docs.COUNT,
)
def count_path() -> Response[str]:
    event = router.current_event
    page, path = request.page_path(event)
    headers = request.headers(event)
    s = services()
    client = request.client(event, s.settings.edge_secret)
    came_from = request.query(event).get("r")
    counted, extra = pages.count(
        s.pages, page, request.idempotency_key(headers), client, path, owner=s.owner, came_from=came_from
    )
    if counted.replayed:
        extra["Idempotent-Replayed"] = "true"
    return contract.json_response(200, {"page": path, "hits": counted.total}, extra)


@router.get("/pages/<page>/badge.svg", summary="A page's badge: counts one hit", responses=page_docs.BADGE)
def badge_svg(page: str) -> Response[str]:
    return _badge(request.page_id(page))


@router.get(
    "/badge.svg", summary="The badge of a page named by its path: counts one hit", responses=page_docs.PATH_BADGE
)
def path_badge_svg() -> Response[str]:
    page, path = request.page_path(router.current_event)
    return _badge(page, path)


def _badge(page: str, path: str = "") -> Response[str]:
    event = router.current_event
    options = badge.options_of(request.query(event))
    label = badge.label_of(request.badge_label(event), options.metric)
    counts = request.badge_counts(event)
    try:
        s = services()
        client = request.client(event, s.settings.edge_secret)
        value, refused = pages.badge_value(s.pages, page, client, counts, path, options.metric, owner=s.owner)
    except AppError as err:  # the configuration itself is wrong: still a badge
        value, refused = None, err
    if refused is not None:
        contract.log_refused_badge(refused)
    # A badge that only shows may be kept a few seconds by a shared cache (the edge's), never by
    # a browser; one that counts, by nobody.
    headers = badge.HEADERS if counts else badge.SHOWN_HEADERS
    return Response(200, "image/svg+xml; charset=utf-8", badge.render(label, value, options), headers=headers)


@router.get(
    "/pages/<page>/stats",
    cache_control=contract.HISTORY_CACHE,
    summary="A page's history",
    responses=page_docs.PAGE_STATS,
)
def page_stats(page: str) -> Response[str]:
    event = router.current_event
    require_reader(event)
    as_csv = csv_answers.wants_csv(request.query(event))
    period = request.period(event)
    limit = request.limit(event, pages.REFERRERS_DEFAULT, pages.REFERRERS_MAX)
    body = pages.page_stats(services().pages, request.page_id(page), period, request.request_time_ms(event), "", limit)
    if as_csv:
        name = f"stats-{body['page']}-{period.name}"
        return Response(200, csv_answers.CONTENT_TYPE, csv_answers.series(body), headers=csv_answers.headers(name))
    return contract.json_response(200, body)


@router.get(
    "/pages", cache_control=contract.HISTORY_CACHE, summary="The period's top pages", responses=page_docs.TOP_PAGES
)
def top() -> Response[str]:
    event = router.current_event
    require_reader(event)
    limit = request.limit(event, pages.TOP_DEFAULT, pages.TOP_MAX)
    as_csv = csv_answers.wants_csv(request.query(event))
    body = pages.top_pages(services().pages, request.period(event), request.request_time_ms(event), limit)
    if as_csv:  # a row per page
        name = f"pages-{body['period']}"
        return Response(200, csv_answers.CONTENT_TYPE, csv_answers.top_pages(body), headers=csv_answers.headers(name))
    return contract.json_response(200, body)


@router.get(
    "/admin/pages",
    cache_control=contract.NO_STORE,
    summary="Every page, its total and last day counted, a cursor at a time (signed with AWS IAM)",
    responses=page_docs.ADMIN_PAGES,
)
def admin_pages() -> Response[str]:
    event = router.current_event
    query = request.query(event)
    limit = request.limit(event, page_admin.LIST_DEFAULT, page_admin.LIST_MAX)
    return contract.json_response(200, page_admin.listing(services().pages, query.get("cursor"), limit))


@router.delete(
    "/pages/<page>",
    cache_control=contract.NO_STORE,
    summary="Delete a page and everything of it (signed with AWS IAM)",
    responses=page_docs.DELETE,
)
def delete_page(page: str) -> Response[str]:
    event = router.current_event
    page_admin.delete(services().pages, request.page_id(page), request.request_time_ms(event))
    return Response(204, None, "")


@router.delete(
    "/count",
    cache_control=contract.NO_STORE,
    summary="Delete a page named by its path (signed with AWS IAM)",
    responses=page_docs.DELETE_PATH,
)
def delete_path_page() -> Response[str]:
    event = router.current_event
    page, path = request.page_path(event)
    page_admin.delete(services().pages, page, request.request_time_ms(event), path)
    return Response(204, None, "")


@router.put(
    "/pages/<page>/count",
    cache_control=contract.NO_STORE,
    summary="Give a page its starting count (signed with AWS IAM)",
    responses=page_docs.SEED,
)
def seed(page: str) -> Response[str]:
    body = bodies.json_body(router.current_event, bodies.MAX_SEED_BODY)
    status, answer = page_admin.seed(services().pages, request.page_id(page), body)
    return contract.json_response(status, answer)
