"""No test reaches a machine other than this one.

`install()` replaces `socket.socket.connect`/`connect_ex` and `socket.getaddrinfo` for the
whole test run: a connection or a name lookup for anything but a loopback address or a
`localhost` name raises NetworkBlocked and is recorded in `attempts`; the autouse fixture in
tests/conftest.py fails the test that made one, even when the code under test swallowed the
error (the IO client would report it as an uncertain outcome). Unix sockets, the IO
simulator, gunicorn, PostgreSQL and Redis on 127.0.0.1 are untouched. Child processes and C
libraries (libpq) are outside this guard; they are pointed at 127.0.0.1 by the tests.
"""

import ipaddress
import socket
from typing import Any

import pytest

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})

attempts: list[str] = []

_originals: dict[str, Any] = {}


class NetworkBlocked(ConnectionRefusedError):
    """A test tried to reach a host outside this machine."""


def is_local(host: object) -> bool:
    """True for loopback and unspecified addresses and for `localhost` names; None and ""
    (the passive lookup of `getaddrinfo(None, port)`, "any address") are local too."""
    if host is None or host in ("", b""):
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").split("%", 1)[0].lower()
    if name in LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _refuse(host: object, port: object) -> None:
    target = f"{host!r}:{port}"
    attempts.append(target)
    raise NetworkBlocked(f"tests may not reach {target}: only localhost is allowed")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not is_local(address[0]):
        _refuse(address[0], address[1])
    _originals["connect"](self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not is_local(address[0]):
        _refuse(address[0], address[1])
    return int(_originals["connect_ex"](self, address))


def _guarded_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    if not is_local(host):
        _refuse(host, port)
    return _originals["getaddrinfo"](host, port, *args, **kwargs)


def install() -> None:
    """Put the guard in place (idempotent)."""
    if _originals:
        return
    _originals.update(
        connect=socket.socket.connect,
        connect_ex=socket.socket.connect_ex,
        getaddrinfo=socket.getaddrinfo,
    )
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign, assignment]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign, assignment]
    socket.getaddrinfo = _guarded_getaddrinfo


def uninstall() -> None:
    if not _originals:
        return
    socket.socket.connect = _originals["connect"]  # type: ignore[method-assign]
    socket.socket.connect_ex = _originals["connect_ex"]  # type: ignore[method-assign]
    socket.getaddrinfo = _originals["getaddrinfo"]
    _originals.clear()


def fail_on_attempts() -> None:
    """Fail the current test if it tried to reach the network; forget the attempts."""
    if attempts:
        tried = ", ".join(attempts)
        attempts.clear()
        pytest.fail(f"the test tried to reach the network outside localhost: {tried}")
