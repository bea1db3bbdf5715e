"""The transport classification against real sockets on 127.0.0.1.

The `responses` tests build requests' exceptions by hand; these check that real failures
(as urllib3 and requests raise them) land in the same classes. Only loopback is used.
"""

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from ioportal.ioapi import AmbiguousError, IOClient, TransientError

from . import samples as s

Handler = Callable[[socket.socket], None]

CREATED_BODY = b'{"id": "01BX9NSMKVXXS5PSP2FATZMYYY"}'
CREATED_RESPONSE = (
    b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(CREATED_BODY), CREATED_BODY)
)


def _read_request(conn: socket.socket) -> bytes:
    """Read one HTTP request (headers + Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class FakeServer:
    """Accepts connections on loopback and hands each one to `handler` in a thread."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self.stop = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/api/v1"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the client may hang up first
            self.handler(conn)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], FakeServer]]:
    servers: list[FakeServer] = []

    def start(handler: Handler) -> FakeServer:
        server = FakeServer(handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _client(base_url: str, **kwargs: float | None) -> IOClient:
    options: dict[str, float | None] = {"connect_timeout": 1.0, "read_timeout": 0.5}
    options.update(kwargs)
    return IOClient(s.API_KEY, base_url=base_url, **options)  # type: ignore[arg-type]


def test_connection_refused_is_transient() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens on this port any more
    client = _client(f"http://127.0.0.1:{port}/api/v1")
    with client, pytest.raises(TransientError) as excinfo:
        client.submit_message(s.new_message())
    assert excinfo.value.maybe_processed is False


def test_no_answer_after_sending_is_ambiguous(serve: Callable[[Handler], FakeServer]) -> None:
    release = threading.Event()

    def hang(conn: socket.socket) -> None:
        _read_request(conn)
        release.wait(3)

    server = serve(hang)
    with _client(server.url) as client, pytest.raises(AmbiguousError):
        client.submit_message(s.new_message())
    release.set()


def test_connection_closed_after_request_is_ambiguous(
    serve: Callable[[Handler], FakeServer],
) -> None:
    server = serve(lambda conn: (_read_request(conn), None)[1])
    with _client(server.url) as client, pytest.raises(AmbiguousError):
        client.submit_message(s.new_message())


def test_reset_after_request_is_ambiguous(serve: Callable[[Handler], FakeServer]) -> None:
    def reset(conn: socket.socket) -> None:
        _read_request(conn)
        # SO_LINGER 0: close sends RST instead of FIN.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    server = serve(reset)
    with _client(server.url) as client, pytest.raises(AmbiguousError):
        client.submit_message(s.new_message())


def test_truncated_body_is_ambiguous(serve: Callable[[Handler], FakeServer]) -> None:
    def truncated(conn: socket.socket) -> None:
        _read_request(conn)
        conn.sendall(
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
            b'Transfer-Encoding: chunked\r\n\r\n10\r\n{"id": "01BX9'
        )

    server = serve(truncated)
    with _client(server.url) as client, pytest.raises(AmbiguousError):
        client.submit_message(s.new_message())


def test_wire_format_and_idle_connections_dropped(
    serve: Callable[[Handler], FakeServer],
) -> None:
    requests_seen: list[bytes] = []

    def keep_alive(conn: socket.socket) -> None:
        conn.settimeout(2)
        while True:
            request = _read_request(conn)
            if not request:
                return
            requests_seen.append(request)
            conn.sendall(CREATED_RESPONSE)

    server = serve(keep_alive)
    with _client(server.url, max_idle_seconds=None) as client:
        client.submit_message(s.new_message())
        client.submit_message(s.new_message())
    assert server.connections == 1  # pooled connection reused

    head = requests_seen[0].split(b"\r\n\r\n")[0].decode().lower()
    assert head.startswith("post /api/v1/messages http/1.1")
    assert f"ocp-apim-subscription-key: {s.API_KEY.lower()}" in head
    assert "content-type: application/json" in head

    server = serve(keep_alive)
    with _client(server.url, max_idle_seconds=0.05) as client:
        client.submit_message(s.new_message())
        threading.Event().wait(0.15)
        client.submit_message(s.new_message())
    assert server.connections == 2  # idle connection replaced before the second call


def test_connection_closed_by_server_while_idle_is_replaced(
    serve: Callable[[Handler], FakeServer],
) -> None:
    def one_request_then_close(conn: socket.socket) -> None:
        _read_request(conn)
        conn.sendall(CREATED_RESPONSE)  # keep-alive announced, then closed anyway

    server = serve(one_request_then_close)
    with _client(server.url, max_idle_seconds=None) as client:
        client.submit_message(s.new_message())
        threading.Event().wait(0.1)  # the server's FIN arrives while the connection is idle
        client.submit_message(s.new_message())
    assert server.connections == 2
