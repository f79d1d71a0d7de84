"""Hit counter: the seed's Flask app as a Lambda function behind an HTTP API, and the
per-page counters site owners embed.

One resolver, its routes in one Powertools ``Router`` per resource (``routers/``): the
seed's counter, health, the history, the pages. Lambda puts this folder first on
``sys.path`` (``/var/task``), so ``routers`` imports as a top-level package.
"""

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver
from routers import health, history, pages, site

from hitcounter.model import bots
from hitcounter.web import contract
from hitcounter.web.entry import entrypoint

app = APIGatewayHttpResolver()
contract.install(app)
for resource in (site, health, history, pages):
    app.include_router(resource.router)

lambda_handler = entrypoint(app.resolve)

try:  # With SnapStart, the snapshot holds the compiled crawler list: no restored page hit pays it.
    from snapshot_restore_py import register_before_snapshot
except ImportError:  # not in Lambda's runtime, or not this runtime's version
    pass
else:
    register_before_snapshot(bots.prepare)
