"""Who a request is, by the privacy rules (README, "Privacy"): what is derived from a
request's address and User-Agent, and what a browser asking not to be tracked keeps back.
Pure functions on plain values: ``hitcounter.web.request`` reads them from the event and
derives nothing, so the rules live in one place and have unit tests without an event."""

from __future__ import annotations

from typing import NamedTuple

from hitcounter.model.bots import is_proxy
from hitcounter.model.history import Visit, client_key, visitor_key


class Client(NamedTuple):
    """What a request says of who sent it, as read from the event (nothing here is stored):
    its own time, its address (the edge's viewer, when it came through the edge), its agent
    and language as sent (None when absent), and whether it asks not to be tracked (``DNT: 1``
    or ``Sec-GPC: 1``)."""

    at_ms: int
    source_ip: str = ""
    user_agent: str | None = None
    accept_language: str | None = None
    private: bool = False
    origin: str | None = None  # the Origin header, or None
    referer: str | None = None  # the Referer header, or None


def site_visit(client: Client) -> Visit:
    """A hit of the seed's counter: the digest of the address and User-Agent (none when the
    request says nothing of either). The seed counted every request, and so does ``GET /``:
    no privacy signal changes what it counts."""
    agent = client.user_agent or ""
    who = visitor_key(client.source_ip, agent) if (client.source_ip or agent) else ""
    return Visit(client.at_ms, who)


def page_visit(client: Client) -> Visit:
    """A page hit's visit. Every page hit carries its client's digest (the address alone, an
    IPv6 address's /64) for the per-client limit and the new-page budget, DNT or not: they
    guard the count and track no one. Under ``DNT``/``Sec-GPC`` the visitor's digest serves the
    reload window alone (kept salted for the window) and never reaches the unique visitors."""
    agent = client.user_agent or ""
    owner = client_key(client.source_ip) if client.source_ip else ""
    if is_proxy(agent):  # one reader each time, who it is unknown: no visitor (its budget stays its address's)
        return Visit(client.at_ms, "", owner, track=False, proxy=True)
    who = visitor_key(client.source_ip, agent) if (client.source_ip or agent) else ""
    return Visit(client.at_ms, who, owner, track=not client.private)
