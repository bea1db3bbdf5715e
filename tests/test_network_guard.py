"""The guard of tests/network_guard.py: a test cannot reach another machine, and can reach
processes on this one."""

import socket
import threading
from collections.abc import Iterator

import pytest
import requests

from tests import network_guard

# TEST-NET-3 (RFC 5737): documentation addresses, never routed.
OUTSIDE = "203.0.113.1"


@pytest.fixture
def recorded() -> Iterator[list[str]]:
    """The attempts this test makes on purpose, taken off the record before the guard's
    check at teardown (which would otherwise fail the test)."""
    seen: list[str] = []
    yield seen
    seen.extend(network_guard.attempts)
    network_guard.attempts.clear()


def test_a_connection_outside_localhost_is_refused_and_recorded(recorded: list[str]) -> None:
    with socket.socket() as sock, pytest.raises(network_guard.NetworkBlocked):
        sock.connect((OUTSIDE, 443))
    assert network_guard.attempts == [f"'{OUTSIDE}':443"]


def test_connect_ex_and_ipv6_are_refused(recorded: list[str]) -> None:
    with socket.socket() as sock, pytest.raises(network_guard.NetworkBlocked):
        sock.connect_ex((OUTSIDE, 80))
    with socket.socket(socket.AF_INET6) as sock, pytest.raises(network_guard.NetworkBlocked):
        sock.connect(("2001:db8::1", 443))
    assert len(network_guard.attempts) == 2


def test_a_name_lookup_outside_localhost_is_refused(recorded: list[str]) -> None:
    with pytest.raises(network_guard.NetworkBlocked):
        socket.getaddrinfo("api.io.pagopa.it", 443)
    assert network_guard.attempts == ["'api.io.pagopa.it':443"]


def test_an_attempt_swallowed_by_a_library_still_fails_the_test(recorded: list[str]) -> None:
    # requests turns the refusal into its own ConnectionError, as the IO client would turn
    # that into an uncertain outcome; the record is what fails the test.
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{OUTSIDE}/", timeout=1)
    with pytest.raises(pytest.fail.Exception, match=OUTSIDE):
        network_guard.fail_on_attempts()
    assert network_guard.attempts == []


def test_without_attempts_nothing_fails() -> None:
    network_guard.fail_on_attempts()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_processes_on_this_machine_are_reachable(host: str) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        accepted = threading.Thread(target=lambda: server.accept()[0].close())
        accepted.start()
        with socket.create_connection((host, port), timeout=5):
            pass
        accepted.join(timeout=5)
    assert network_guard.attempts == []


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.5.0.9", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("portale.localhost", True),
        (None, True),
        ("", True),
        (b"127.0.0.1", True),
        ("203.0.113.1", False),
        ("10.0.0.1", False),
        ("2001:db8::1", False),
        ("example.com", False),
        ("localhost.example.com", False),
    ],
)
def test_what_counts_as_local(host: object, local: bool) -> None:
    assert network_guard.is_local(host) is local
