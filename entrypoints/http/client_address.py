"""Who is on the other end: the peer, or what a trusted proxy says it is."""

import ipaddress
import logging
from collections.abc import Iterable

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

logger = logging.getLogger(__name__)

# What has been warned about in this process: each warning once, not once per request.
_warned: set[str] = set()


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: Address | None, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def _forwarded_hops(request: Request) -> list[str]:
    """Every hop of every ``X-Forwarded-For`` line, in order: repeated lines are one list
    (RFC 9110, section 5.3)."""
    lines = request.headers.getlist("x-forwarded-for")
    return [hop.strip() for line in lines for hop in line.split(",") if hop.strip()]


def client_address(request: Request, trusted_proxies: tuple[Network, ...]) -> str | None:
    """The client's address; ``X-Forwarded-For`` counts only when a trusted proxy sent it.

    The header is read from the right, skipping our own proxies: the first address
    not among them is the one the nearest untrusted hop claimed, which is as far
    as any of it can be believed. A hop that is not an IP address (junk a client put
    there) is not believed either: the answer is then the peer. Either way the answer
    is an address in its canonical form, or None when there is no peer.
    """
    peer = request.client.host if request.client else None
    peer_address = _address(peer) if peer is not None else None
    if not _trusted(peer_address, trusted_proxies):
        if "x-forwarded-for" in request.headers:
            _warn_untrusted_forwarding(peer)
        return str(peer_address) if peer_address is not None else peer
    for hop in reversed(_forwarded_hops(request)):
        address = _address(hop)
        if address is None:
            break
        if not _trusted(address, trusted_proxies):
            return str(address)
    return str(peer_address)


def _warn_untrusted_forwarding(peer: str | None) -> None:
    if "untrusted-forwarding" in _warned:
        return
    _warned.add("untrusted-forwarding")
    # Behind a load balancer that is not in TRUSTED_PROXIES, every client has the
    # balancer's address, and one client's failures close login for all of them.
    logger.warning(
        "A request from %s carried X-Forwarded-For, but that peer is not in TRUSTED_PROXIES, "
        "so the header is ignored and the peer counts as the client. If this service runs "
        "behind a proxy or load balancer, list its addresses in TRUSTED_PROXIES, or every "
        "client behind it shares one set of per-address limits. (Logged once.)",
        peer,
    )
