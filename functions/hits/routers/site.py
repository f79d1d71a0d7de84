"""The seed's counter: ``GET /`` counts one hit with a single script and answers with its
own INCR's reply, so two concurrent requests never print the same number (the seed did INCR
then GET); ``GET /hits`` reads it."""

from aws_lambda_powertools.event_handler import content_types
from aws_lambda_powertools.event_handler.api_gateway import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from hitcounter.logic import counting
from hitcounter.runtime import services
from hitcounter.web import api_docs, contract, request
from routers import require_reader

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # its __init__ has no annotations


@router.get("/", cache_control=contract.NO_STORE, summary="Count one hit", responses=api_docs.COUNT_HIT)
def hello() -> Response[str]:
    headers = request.headers(router.current_event)
    s = services()
    client = request.client(router.current_event, s.settings.edge_secret)
    hit = counting.count(s.hits, request.idempotency_key(headers), client)
    extra = {"Idempotent-Replayed": "true"} if hit.replayed else {}
    if request.wants_json(headers):
        return contract.json_response(200, {"hits": hit.total}, extra)
    return Response(200, content_types.TEXT_PLAIN, f"Hello World! {hit.total} times.", headers=extra | contract.NOSNIFF)


@router.get("/hits", cache_control=contract.NO_STORE, summary="Read the count", responses=api_docs.READ_HITS)
def current() -> Response[str]:
    require_reader(router.current_event)
    return contract.json_response(200, {"hits": services().hits.count()})
