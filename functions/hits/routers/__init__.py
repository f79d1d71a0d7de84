"""The hits function's routes, one Powertools ``Router`` per resource (``app.py`` includes
them all into the one resolver, so one function, one cold start): ``site`` (the seed's
counter), ``health``, ``history`` (``/stats`` and ``/dashboard``) and ``pages``."""

from typing import Any

from hitcounter.logic import access
from hitcounter.runtime import services
from hitcounter.web import request


def require_reader(event: Any) -> None:
    """The reads (``/hits``, ``/stats``, ``/pages``, a page's stats, ``/dashboard``) are the
    owner's alone with STATS_ACCESS=token (``hitcounter.logic.access``): one check for every
    router that serves one."""
    settings = services().settings
    access.require_reader(settings.stats_access, settings.stats_token_sha256, request.stats_token(event))
