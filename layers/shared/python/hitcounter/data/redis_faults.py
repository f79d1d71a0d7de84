"""What went wrong with Redis, in words an operator can act on.

redis-py reports a broken certificate, a wrong password, a full server and a network blip
all as some ``ConnectionError`` or ``ResponseError``. ``classify`` looks at the exception
(and what caused it) and names the fault with a fixed category, never with redis-py's
message text (it can carry hosts, ports, commands or keys). ``unavailable`` turns it into
the one error the HTTP layer knows: 503 with ``Retry-After``.

Categories that no retry can fix (a certificate that does not verify, credentials the
server refuses, a standalone client pointed at a cluster) are ``permanent``: they are
misconfigurations, logged as such (``hitcounter.web.contract``), though the client still gets the
documented 503.
"""

from __future__ import annotations

import socket
import ssl
from typing import NamedTuple

from redis import exceptions as rex

from hitcounter.core.errors import BackendUnavailable


class Fault(NamedTuple):
    cause: str
    permanent: bool = False
    drop_pool: bool = False  # a new connection may reach another server (stable endpoint)


_PERMANENT = frozenset({"tls_verify_failed", "tls_error", "auth_failed", "no_permission", "moved_misconfigured"})


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from, at most a few levels deep."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 8 and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _cause(exc: BaseException, cluster: bool) -> str:  # noqa: PLR0911, PLR0912 - one answer per fault
    chain = _chain(exc)

    def caused_by(*kinds: type[BaseException]) -> bool:
        return any(isinstance(item, kinds) for item in chain)

    if caused_by(ssl.SSLCertVerificationError):
        return "tls_verify_failed"
    if caused_by(ssl.SSLError):
        return "tls_error"
    if isinstance(exc, rex.AuthenticationError | rex.AuthenticationWrongNumberOfArgsError):
        return "auth_failed"
    if isinstance(exc, rex.NoPermissionError):
        return "no_permission"
    if isinstance(exc, rex.OutOfMemoryError):
        return "oom"
    if isinstance(exc, rex.ReadOnlyError):
        return "readonly"
    if isinstance(exc, rex.MasterDownError | rex.ClusterDownError | rex.SlotNotCoveredError):
        return "cluster_down"
    if isinstance(exc, rex.AskError) and not cluster:  # MovedError is an AskError
        return "moved_misconfigured"
    if isinstance(exc, rex.BusyLoadingError):
        return "loading"
    if isinstance(exc, rex.ConnectionError) and "max number of clients" in str(exc):
        return "maxclients"
    if isinstance(exc, rex.MaxConnectionsError):
        return "pool_exhausted"
    if caused_by(rex.TimeoutError, socket.timeout, TimeoutError):
        return "timeout"
    if caused_by(ConnectionRefusedError):
        return "refused"
    if caused_by(socket.gaierror):
        return "dns"
    if isinstance(exc, rex.RedisClusterException):
        # redis-py's own: no seed node answered while building or refreshing the topology.
        return "cluster_unreachable"
    if isinstance(exc, rex.ConnectionError):
        return "connection_lost"
    return "unavailable"


def classify(exc: BaseException, *, cluster: bool = False) -> Fault:
    cause = _cause(exc, cluster)
    return Fault(
        cause=cause,
        permanent=cause in _PERMANENT,
        # READONLY: the endpoint now names another primary; MOVED on a standalone client: the
        # endpoint is a cluster (a misconfiguration, but a new connection costs nothing).
        drop_pool=cause in ("readonly", "moved_misconfigured"),
    )


def unavailable(fault: Fault) -> BackendUnavailable:
    return BackendUnavailable(cause=fault.cause, permanent=fault.permanent)
