"""The idle age of each pooled connection (`ConnectionPool`), on a fake clock.

Connections are taken from and given back to the account's urllib3 pool the way urllib3's
`urlopen` does; a socketpair stands in for each connection's socket, so nothing goes over a
network and no test waits.
"""

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool

from ioportal.ioapi import ConnectionPool

URL = "http://io.test/api/v1/messages"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(time, "monotonic", fake)
    return fake


@pytest.fixture
def peers() -> Iterator[list[socket.socket]]:
    """The far ends of the connections' socketpairs (closed after the test)."""
    ends: list[socket.socket] = []
    yield ends
    for end in ends:
        end.close()


def host_pool(pool: ConnectionPool, url: str = URL) -> HTTPConnectionPool:
    return pool.session.get_adapter(url).poolmanager.connection_from_url(url)


def take(http: HTTPConnectionPool, peers: list[socket.socket]) -> Any:
    """A connection from the pool, connected (to a socketpair) when it was not."""
    conn = http._get_conn()
    if conn.is_closed:
        conn.sock, far_end = socket.socketpair()
        peers.append(far_end)
    return conn


def test_connection_idle_too_long_is_closed_on_checkout_while_another_is_in_flight(
    clock: Clock, peers: list[socket.socket]
) -> None:
    pool = ConnectionPool(maxsize=2, max_idle_seconds=1.0)
    http = host_pool(pool)
    busy = take(http, peers)
    idle = take(http, peers)
    http._put_conn(idle)  # the calls in flight drop to one: `idle` waits in the pool

    clock.now += 1.5  # `busy` is still in flight all along
    conn = http._get_conn()

    assert conn is idle
    assert conn.is_closed  # closed before any request is written; urllib3 reconnects
    assert not busy.is_closed


def test_connections_reused_within_the_idle_age_stay_open_lifo(
    clock: Clock, peers: list[socket.socket]
) -> None:
    pool = ConnectionPool(maxsize=2, max_idle_seconds=1.0)
    http = host_pool(pool)
    first = take(http, peers)
    second = take(http, peers)
    http._put_conn(first)  # given back at 1000.0
    clock.now += 0.8
    http._put_conn(second)  # given back at 1000.8

    clock.now += 0.5
    assert http._get_conn() is second  # last in, first out; idle 0.5 s: kept
    assert not second.is_closed
    conn = http._get_conn()
    assert conn is first
    assert conn.is_closed  # idle 1.3 s


def test_no_idle_age_keeps_connections(clock: Clock, peers: list[socket.socket]) -> None:
    http = host_pool(ConnectionPool(maxsize=1, max_idle_seconds=None))
    conn = take(http, peers)
    http._put_conn(conn)
    clock.now += 3600

    assert http._get_conn() is conn
    assert not conn.is_closed


def test_https_pools_keep_https_connections() -> None:
    http = host_pool(ConnectionPool(), "https://api.io.pagopa.it/api/v1/profiles")
    assert http.scheme == "https"
    assert isinstance(http._new_conn(), HTTPSConnection)


def test_pools_through_an_http_proxy_check_the_idle_age_too(
    clock: Clock, peers: list[socket.socket]
) -> None:
    pool = ConnectionPool(maxsize=1, max_idle_seconds=1.0)
    adapter = pool.session.get_adapter(URL)
    manager = adapter.proxy_manager_for("http://proxy.test:3128")
    http = manager.connection_from_url("https://api.io.pagopa.it/api/v1/profiles")
    assert isinstance(http._new_conn(), HTTPSConnection)

    conn = take(http, peers)
    http._put_conn(conn)
    clock.now += 1.5
    assert http._get_conn().is_closed


def test_the_pool_a_request_goes_to_is_worked_out_once_per_host_and_tls_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """requests works out the urllib3 pool of every request again (a file-system look when
    the CA bundle is a path); the adapter remembers it per scheme, host and TLS settings,
    and a different host or CA bundle still gets its own answer."""
    import requests
    from requests.adapters import HTTPAdapter

    computed: list[tuple[str, object]] = []
    original = HTTPAdapter.build_connection_pool_key_attributes

    def counting(self: HTTPAdapter, request: Any, verify: Any, cert: Any = None) -> Any:
        computed.append((request.url, verify))
        return original(self, request, verify, cert)

    monkeypatch.setattr(HTTPAdapter, "build_connection_pool_key_attributes", counting)
    pool = ConnectionPool()
    adapter = pool.session.get_adapter(URL)

    def key_for(url: str, verify: object) -> Any:
        request = requests.Request("GET", url).prepare()
        return adapter.build_connection_pool_key_attributes(request, verify)

    first = key_for(URL, "/etc/ssl/bundle.pem")
    again = key_for("http://io.test/api/v1/profiles", "/etc/ssl/bundle.pem")
    assert again == first and len(computed) == 1
    again[1]["ca_certs"] = "changed by a caller"
    assert key_for(URL, "/etc/ssl/bundle.pem")[1]["ca_certs"] == "/etc/ssl/bundle.pem"
    other_host = key_for("https://api.io.test:8443/x", "/etc/ssl/bundle.pem")
    assert other_host[0] == {"scheme": "https", "host": "api.io.test", "port": 8443}
    other_bundle = key_for(URL, False)
    assert other_bundle[1]["cert_reqs"] == "CERT_NONE"
    assert len(computed) == 3
