"""Which address a request counts as: the peer, or what a trusted proxy forwarded."""

import logging

import pytest
from starlette.requests import Request

from entrypoints.http import client_address as module
from entrypoints.http.client_address import client_address, parse_networks

PROXIES = parse_networks(["10.0.0.0/8"])


def _request(peer: str, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", line.encode("latin-1")) for line in forwarded]
    return Request({"type": "http", "headers": headers, "client": (peer, 50000)})


@pytest.fixture(autouse=True)
def _fresh_warnings() -> None:
    module._warned.clear()


def test_a_trusted_proxy_names_the_client() -> None:
    assert client_address(_request("10.0.0.5", "198.51.100.1, 10.0.0.9"), PROXIES) == (
        "198.51.100.1"
    )


def test_the_rightmost_untrusted_hop_wins_over_what_the_client_wrote() -> None:
    request = _request("10.0.0.5", "203.0.113.66, 198.51.100.1")
    assert client_address(request, PROXIES) == "198.51.100.1"


def test_repeated_header_lines_are_one_list() -> None:
    # The client wrote the first line, the proxy appended the second.
    request = _request("10.0.0.5", "203.0.113.66", "198.51.100.1")
    assert client_address(request, PROXIES) == "198.51.100.1"


@pytest.mark.parametrize(
    "junk",
    ["x" * 400, "not-an-address", "198.51.100.1:443", "<script>", "198.51.100.1 extra"],
)
def test_a_hop_that_is_not_an_address_falls_back_to_the_peer(junk: str) -> None:
    assert client_address(_request("10.0.0.5", f"198.51.100.1, {junk}"), PROXIES) == "10.0.0.5"


def test_addresses_come_back_in_canonical_form() -> None:
    request = _request("10.0.0.5", "2001:DB8:0:0:0:0:0:1")
    assert client_address(request, PROXIES) == "2001:db8::1"


def test_the_header_is_ignored_from_an_untrusted_peer() -> None:
    assert client_address(_request("192.0.2.44", "198.51.100.3"), PROXIES) == "192.0.2.44"
    assert client_address(_request("192.0.2.44", "198.51.100.3"), ()) == "192.0.2.44"


def test_forwarding_from_an_untrusted_peer_is_warned_about_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger=module.logger.name):
        for _ in range(3):
            client_address(_request("192.0.2.44", "198.51.100.3"), ())
        client_address(_request("192.0.2.45"), ())  # no header: nothing to say

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "TRUSTED_PROXIES" in warnings[0].getMessage()


def test_no_warning_without_the_header_or_from_a_trusted_proxy(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger=module.logger.name):
        client_address(_request("192.0.2.44"), ())
        client_address(_request("10.0.0.5", "198.51.100.3"), PROXIES)

    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
