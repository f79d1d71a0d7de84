"""The hit history: ``/stats`` as JSON, ``/dashboard`` as one HTML page (the site's, or one
page's with ``?page=``)."""

from aws_lambda_powertools.event_handler.api_gateway import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from hitcounter.logic import pages
from hitcounter.logic.stats import read_stats
from hitcounter.runtime import services
from hitcounter.web import api_docs, contract, csv_answers, request
from routers import require_reader

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # its __init__ has no annotations


@router.get(
    "/stats",
    cache_control=contract.HISTORY_CACHE,
    summary="The hit history: totals, unique visitors, the series",
    responses=api_docs.STATS,
)
def stats() -> Response[str]:
    event = router.current_event
    require_reader(event)
    period, now_ms = request.period(event), request.request_time_ms(event)
    as_csv = csv_answers.wants_csv(request.query(event))
    limit = request.limit(event, pages.REFERRERS_DEFAULT, pages.REFERRERS_MAX)  # a page's referring hosts
    named = request.stats_path(event)
    if named is not None:  # a path page's history (?path=), in /pages/{page}/stats's shape
        page, path = named
        body = pages.page_stats(services().pages, page, period, now_ms, path, limit)
    else:
        body = read_stats(services().hits, period, now_ms)
    if as_csv:  # a spreadsheet's: a row per bucket
        name = f"stats-{'page' if named else 'site'}-{period.name}"
        return Response(200, csv_answers.CONTENT_TYPE, csv_answers.series(body), headers=csv_answers.headers(name))
    return contract.json_response(200, body)


@router.get(
    "/dashboard",
    cache_control=contract.HISTORY_CACHE,
    summary="The hit history as one HTML page",
    responses=api_docs.DASHBOARD,
)
def dashboard_page() -> Response[str]:
    from hitcounter.web import dashboard  # only this route pays for the renderer's import

    event = router.current_event
    require_reader(event)
    period, now_ms = request.period(event), request.request_time_ms(event)
    named = request.page_param(event)
    if named is not None:  # one page's own view, by its id or its path
        page, shown = named
        path = shown if shown.startswith("/") else ""
        stats = pages.page_stats(services().pages, page, period, now_ms, path)
        html = dashboard.render(stats, [], page=shown, token=request.query_token(event))
    else:
        data = read_stats(services().hits, period, now_ms, recent_imports=10)
        top = pages.top_pages(services().pages, period, now_ms, pages.TOP_DEFAULT)
        html = dashboard.render(
            data, data.pop("imports"), top["pages"], token=request.query_token(event), all_pages=top["all"]
        )
    return Response(200, "text/html; charset=utf-8", html, headers=dashboard.HEADERS)
