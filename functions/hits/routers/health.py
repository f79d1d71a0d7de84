"""Liveness and readiness."""

from aws_lambda_powertools.event_handler.api_gateway import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from hitcounter.runtime import services
from hitcounter.web import api_docs, contract

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # its __init__ has no annotations


@router.get("/health", cache_control=contract.NO_STORE, summary="Liveness", responses=api_docs.LIVENESS)
def health() -> Response[str]:
    # Liveness only: touches no backing service, so a Redis outage never marks us dead.
    return contract.json_response(200, {"status": "ok"})


@router.get(
    "/health/ready", cache_control=contract.NO_STORE, summary="Readiness: Redis answers", responses=api_docs.READINESS
)
def ready() -> Response[str]:
    return contract.json_response(200, {"status": "ok", "redis_ms": round(services().hits.ping_ms(), 3)})
