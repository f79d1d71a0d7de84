"""Visitor sessions kept in Redis with a sliding TTL: factor VI's answer to sticky sessions.

Whichever process serves the next request finds the session in Redis; none keeps it.
"""

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver, Response

from hitcounter.core.observability import count_metric
from hitcounter.logic import sessions
from hitcounter.runtime import services
from hitcounter.web import api_docs, bodies, contract, cookies
from hitcounter.web.entry import entrypoint

app = APIGatewayHttpResolver()
contract.install(app)


@app.post(
    "/session", cache_control=contract.NO_STORE, summary="Start a visitor session", responses=api_docs.START_SESSION
)
def start() -> Response[str]:
    store = services().sessions
    sid = store.create()
    count_metric("SessionsStarted")
    response = contract.json_response(201, {"expires_in": store.ttl})
    response.cookies.append(cookies.session_cookie(sid, store.ttl))
    return response


@app.get("/session", cache_control=contract.NO_STORE, summary="Count a visit", responses=api_docs.VISIT_SESSION)
def visit() -> Response[str]:
    body = sessions.visit(services().sessions, app.current_event.cookies)
    return contract.json_response(200, body)


@app.put(
    "/session", cache_control=contract.NO_STORE, summary="Replace the session data", responses=api_docs.REPLACE_SESSION
)
def replace() -> Response[str]:
    data = bodies.session_data(app.current_event)
    return contract.json_response(200, sessions.replace(services().sessions, app.current_event.cookies, data))


@app.delete("/session", cache_control=contract.NO_STORE, summary="End the session", responses=api_docs.END_SESSION)
def end() -> Response[str]:
    sessions.end(services().sessions, app.current_event.cookies)
    response: Response[str] = Response(204, None, "")
    response.cookies.append(cookies.cleared_cookie())
    return response


lambda_handler = entrypoint(app.resolve)
