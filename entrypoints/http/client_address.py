"""Who is on the other end: the peer, or what a trusted proxy says it is."""

import ipaddress
from collections.abc import Iterable

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Request, trusted_proxies: tuple[Network, ...]) -> str | None:
    """The client's address; ``X-Forwarded-For`` counts only when a trusted proxy sent it.

    The header is read from the right, skipping our own proxies: the first address
    not among them is the one the nearest untrusted hop claimed, which is as far
    as any of it can be believed.
    """
    peer = request.client.host if request.client else None
    if peer is None or not trusted_proxies or not _trusted(peer, trusted_proxies):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted_proxies):
            return hop
    return peer
