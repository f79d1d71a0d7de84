"""Hit counter: the seed's Flask app as a Lambda function behind an HTTP API.

``GET /`` counts one hit with a single INCR and answers with INCR's own reply, so two
concurrent requests never print the same number (the seed did INCR then GET).
"""

from aws_lambda_powertools.event_handler import content_types
from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver, Response

from hitcounter import http
from hitcounter.observability import count_metric, entrypoint
from hitcounter.runtime import services

app = APIGatewayHttpResolver()
http.install(app)


@app.get("/")
def hello() -> Response[str]:
    hits = services().hits.incr()
    count_metric("Hits")
    if http.wants_json(app.current_event.headers):
        return http.json_response(200, {"hits": hits})
    return Response(200, content_types.TEXT_PLAIN, f"Hello World! {hits} times.")


@app.get("/hits")
def current() -> Response[str]:
    return http.json_response(200, {"hits": services().hits.count()})


@app.get("/health")
def health() -> Response[str]:
    # Liveness only: touches no backing service, so a Redis outage never marks us dead.
    return http.json_response(200, {"status": "ok"})


@app.get("/health/ready")
def ready() -> Response[str]:
    return http.json_response(200, {"status": "ok", "redis_ms": round(services().hits.ping_ms(), 3)})


lambda_handler = entrypoint(app.resolve)
