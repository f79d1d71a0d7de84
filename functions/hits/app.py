"""Hit counter: the seed's Flask app as a Lambda function behind an HTTP API.

``GET /`` counts one hit with a single script and answers with its own INCR's reply, so two
concurrent requests never print the same number (the seed did INCR then GET).
"""

from aws_lambda_powertools.event_handler import content_types
from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver, Response

from hitcounter.logic import counting
from hitcounter.logic.stats import read_stats
from hitcounter.runtime import services
from hitcounter.web import api_docs, contract, request
from hitcounter.web.entry import entrypoint

app = APIGatewayHttpResolver()
contract.install(app)


@app.get("/", cache_control=contract.NO_STORE, summary="Count one hit", responses=api_docs.COUNT_HIT)
def hello() -> Response[str]:
    headers = request.headers(app.current_event)
    hit = counting.count(services().hits, request.idempotency_key(headers), request.visit(app.current_event))
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
    data = read_stats(services().hits, request.period(event), request.request_time_ms(event), recent_imports=10)
    page = dashboard.render(data, data.pop("imports"))
    return Response(200, "text/html; charset=utf-8", page, headers=dashboard.HEADERS)


@app.get("/health", cache_control=contract.NO_STORE, summary="Liveness", responses=api_docs.LIVENESS)
def health() -> Response[str]:
    # Liveness only: touches no backing service, so a Redis outage never marks us dead.
    return contract.json_response(200, {"status": "ok"})


@app.get(
    "/health/ready", cache_control=contract.NO_STORE, summary="Readiness: Redis answers", responses=api_docs.READINESS
)
def ready() -> Response[str]:
    return contract.json_response(200, {"status": "ok", "redis_ms": round(services().hits.ping_ms(), 3)})


lambda_handler = entrypoint(app.resolve)
