"""HTTP layer of the IO simulator: routing, IO's gateway (APIM), faults and inspection.

Standard library only: a ThreadingHTTPServer (one thread per connection) speaking HTTP/1.1
with keep-alive. What APIM does in front of IO happens here, in APIM's order: subscription
key (401), per-account rate limit (429), then the operation (simulator.py). Injected faults
are drawn after the key and rate-limit checks, so a faulty call still spends the account's
budget, as a call that reached IO's backend does.

The inspection API lives under /__fakeio__/ and is not part of IO: it has no key and no
rate limit.
"""

import contextlib
import dataclasses
import json
import socket
import sys
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from ioportal.fakeio.config import SUBMIT_OPERATIONS, Config, ConfigError, Faults
from ioportal.fakeio.logline import log_lines
from ioportal.fakeio.simulator import JSON_TYPE, Reply, Simulator, problem

API_PREFIX = "/api/v1/"
INSPECTION_PREFIX = "/__fakeio__/"
# What GET /__fakeio__/ lists: the address printed at start must answer something useful.
INSPECTION_INDEX = [
    "GET /__fakeio__/stats",
    "GET /__fakeio__/ledger[?duplicates=1]",
    "GET /__fakeio__/messages[?service_id=&fiscal_code=]",
    "GET /__fakeio__/faults",
    "PUT /__fakeio__/faults",
    "GET /__fakeio__/config",
    "POST /__fakeio__/reset",
    "POST /__fakeio__/messages/{id}/open",
    "PUT /__fakeio__/rc-configurations/{configuration_id}",
]
KEY_HEADER = "Ocp-Apim-Subscription-Key"

# Azure API Management's default gateway answers (not in PagoPA's repositories, IO-API.md §1).
MISSING_KEY_MESSAGE = (
    "Access denied due to missing subscription key. Make sure to include subscription key "
    "when making requests to an API."
)
INVALID_KEY_MESSAGE = (
    "Access denied due to invalid subscription key. Make sure to provide a valid key for an "
    "active subscription."
)


def gateway_reply(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"statusCode": status, "message": message}, headers=headers or {})


def unauthorized(message: str) -> Reply:
    return gateway_reply(
        401,
        message,
        {
            "WWW-Authenticate": (
                'AzureApiManagementKey realm="https://api.io.pagopa.it/api/v1",'
                f'name="{KEY_HEADER}",type="header"'
            )
        },
    )


def rate_limited(retry_after: int) -> Reply:
    # APIM's policy names the header x-rate-limit-retry-after, which replaces Retry-After.
    return gateway_reply(
        429,
        f"Rate limit is exceeded. Try again in {retry_after} seconds.",
        {"x-rate-limit-retry-after": str(retry_after)},
    )


def injected_error(status: int) -> Reply:
    if status == 500:
        return problem(500, "Internal server error", "Injected fault (fakeio)")
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return gateway_reply(status, phrase)


def match_io_route(method: str, path: str) -> tuple[str, list[str]] | None:
    """Map a request to IO's operation id and its path parameters."""
    if not path.startswith(API_PREFIX):
        return None
    parts = [unquote(part) for part in path[len(API_PREFIX) :].split("/")]
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()  # the messages API is mounted at /api/v1/messages/
    if any(part == "" for part in parts):
        return None
    head, params = parts[0], parts[1:]
    if method == "POST" and head == "profiles" and not params:
        return "getProfileByPOST", params
    if method == "GET" and head == "profiles" and len(params) == 1:
        return "getProfile", params
    if method == "GET" and head == "subscriptions-feed" and len(params) == 1:
        return "getSubscriptionsFeedForDate", params
    if method == "POST" and head == "messages" and not params:
        return "submitMessageforUserWithFiscalCodeInBody", params
    if method == "POST" and head == "messages" and len(params) == 1:
        return "submitMessageforUser", params
    if method == "GET" and head == "messages" and len(params) == 2:
        return "getMessage", params
    return None


def faults_as_dict(faults: Faults) -> dict[str, Any]:
    data = dataclasses.asdict(faults)
    data["operations"] = list(faults.operations)
    return data


class FakeIOHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakeio"
    sys_version = ""
    # Headers and body go out in two writes; without this, Nagle plus delayed ACKs add
    # 40 ms to every keep-alive response.
    disable_nagle_algorithm = True

    @property
    def app(self) -> "FakeIOServer":
        return cast(FakeIOServer, self.server)

    def setup(self) -> None:
        # Idle keep-alive connections are closed after idle_timeout, like a real gateway,
        # so clients meet stale pooled connections in tests too.
        super().setup()
        self.connection.settimeout(self.app.sim.config.idle_timeout)
        self.app.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.app.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        # The standard library's line has its own date format: the portal's instead (errors
        # such as an idle connection's timeout come here too).
        if self.app.access_log:
            sys.stderr.write(log_lines(f"{self.address_string()} {format % args}"))

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def do_PUT(self) -> None:
        self.dispatch("PUT")

    def do_DELETE(self) -> None:
        self.dispatch("DELETE")

    def do_PATCH(self) -> None:
        self.dispatch("PATCH")

    def read_body(self) -> bytes | None:
        """The request body, or None when it cannot be read (the connection is then closed)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def dispatch(self, method: str) -> None:
        body = self.read_body()
        if body is None:
            self.close_connection = True
            self.send_reply(Reply(411, {"error": "Content-Length required"}))
            return
        url = urlsplit(self.path)
        try:
            if url.path.startswith(INSPECTION_PREFIX):
                self.send_reply(self.inspect(method, url.path, parse_qs(url.query), body))
            else:
                self.handle_io(method, url.path, parse_qs(url.query), body)
        except Exception:
            # A simulator bug must show up as IO's generic 500, not as a hung client.
            traceback.print_exc(file=sys.stderr)
            self.send_reply(problem(500, "Internal server error", "fakeio crashed"))

    def send_reply(self, reply: Reply) -> None:
        data = b"" if reply.body is None else json.dumps(reply.body, separators=(",", ":")).encode()
        try:
            self.send_response(reply.status)
            if data:
                self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            # The client gave up (read timeout) while a slow answer was pending.
            self.close_connection = True

    def drop(self, operation: str, kind: str, delay: float) -> None:
        """Close the connection without answering: the client sees a dropped connection.

        `lost_answer` drops after a submission was stored: the message exists and counts
        in the ledger, but the client cannot know it.
        """
        self.app.sim.count_fault(kind)
        self.app.sim.count(operation, kind)
        time.sleep(delay)
        self.close_connection = True

    def handle_io(
        self, method: str, path: str, query: dict[str, list[str]], raw_body: bytes
    ) -> None:
        sim = self.app.sim
        route = match_io_route(method, path)
        if route is None:
            sim.count("unknown", "404")
            self.send_reply(gateway_reply(404, "Resource not found"))
            return
        operation, params = route
        key = self.headers.get(KEY_HEADER) or query.get("subscription-key", [None])[0]
        service = sim.service_for_key(key)
        if service is None:
            sim.count(operation, "401")
            self.send_reply(unauthorized(MISSING_KEY_MESSAGE if not key else INVALID_KEY_MESSAGE))
            return
        allowed, remaining, retry_after = sim.take_call(service.account)
        if not allowed:
            sim.count(operation, "429")
            self.send_reply(rate_limited(retry_after))
            return
        faults = sim.faults
        applies = faults.applies_to(operation)
        delay = faults.latency_ms / 1000
        if faults.jitter_ms:
            delay += sim.rng.uniform(0, faults.jitter_ms) / 1000
        if applies and sim.chance(faults.slow_rate):
            sim.count_fault("slow")
            delay += faults.slow_ms / 1000
        if applies and sim.chance(faults.drop_rate):
            self.drop(operation, "dropped", delay)
            return
        if applies and sim.chance(faults.throttle_rate):
            sim.count_fault("throttled")
            reply = rate_limited(max(1, round(sim.config.rate_window)))
        elif applies and sim.chance(faults.error_rate):
            sim.count_fault("server_error")
            reply = injected_error(faults.error_status)
        else:
            reply = self.call_operation(operation, params, raw_body, service)
        if reply.stored and applies and sim.chance(faults.lost_answer_rate):
            self.drop(operation, "lost_answer", delay)
            return
        if reply.stored and applies and sim.chance(faults.error_after_store_rate):
            sim.count_fault("server_error_after_store")
            reply = injected_error(faults.error_status)
        if remaining is not None and reply.status != 429:
            reply.headers["x-rate-limit-remaining"] = str(remaining)
        sim.count(operation, str(reply.status))
        time.sleep(delay)
        self.send_reply(reply)

    def call_operation(
        self, operation: str, params: list[str], raw_body: bytes, service: Any
    ) -> Reply:
        sim = self.app.sim
        client_ip = self.client_address[0]
        body: Any = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = None
        if operation == "getProfileByPOST":
            return sim.get_profile_by_post(service, body, client_ip)
        if operation == "getProfile":
            return sim.get_profile_by_path(service, params[0], client_ip)
        if operation == "getSubscriptionsFeedForDate":
            return sim.get_subscriptions_feed(service, params[0], client_ip)
        if operation in SUBMIT_OPERATIONS:
            path_fiscal_code = params[0] if params else None
            return sim.submit_message(service, body, path_fiscal_code, client_ip)
        return sim.get_message(service, params[0], params[1], client_ip)

    def inspect(
        self, method: str, path: str, query: dict[str, list[str]], raw_body: bytes
    ) -> Reply:
        """The test-facing API; see docs/fakeio.md."""
        sim = self.app.sim
        name = path[len(INSPECTION_PREFIX) :].rstrip("/")
        if method == "GET" and name == "":
            return Reply(200, {"inspection_api": INSPECTION_INDEX, "docs": "docs/fakeio.md"})
        if method == "GET" and name == "stats":
            return Reply(200, sim.stats())
        if method == "GET" and name == "ledger":
            duplicates_only = query.get("duplicates", ["0"])[0] not in ("0", "false", "")
            return Reply(200, sim.ledger_entries(duplicates_only))
        if method == "GET" and name == "messages":
            filters = {key: values[0] for key, values in query.items()}
            return Reply(200, sim.message_entries(filters))
        if method == "GET" and name == "faults":
            return Reply(200, faults_as_dict(sim.faults))
        if method == "PUT" and name == "faults":
            try:
                faults = sim.set_faults(json.loads(raw_body or b"{}"))
            except (ValueError, ConfigError) as exc:
                return Reply(400, {"error": str(exc)})
            return Reply(200, faults_as_dict(faults))
        if method == "POST" and name == "reset":
            sim.reset()
            return Reply(200, {"reset": True})
        if method == "GET" and name == "config":
            return Reply(200, sim.config_summary())
        parts = name.split("/")
        if method == "POST" and len(parts) == 3 and parts[0] == "messages" and parts[2] == "open":
            try:
                options = json.loads(raw_body) if raw_body else {}
            except ValueError:
                return Reply(400, {"error": "the body must be JSON"})
            return sim.open_message(unquote(parts[1]), options)
        if method == "PUT" and len(parts) == 2 and parts[0] == "rc-configurations":
            try:
                endpoint = sim.set_rc_endpoint(unquote(parts[1]), json.loads(raw_body or b"{}"))
            except (ValueError, ConfigError) as exc:
                return Reply(400, {"error": str(exc)})
            return Reply(200, dataclasses.asdict(endpoint) | {"key": "••••"})
        return Reply(404, {"error": f"no inspection endpoint {method} {path}"}, JSON_TYPE)


class FakeIOServer(ThreadingHTTPServer):
    daemon_threads = True
    # Benchmarks open many connections at once; the default backlog of 5 drops some.
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sim: Simulator, access_log: bool = False):
        self.sim = sim
        self.access_log = access_log
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        super().__init__(address, FakeIOHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    @property
    def open_connections(self) -> int:
        """Client connections being served (kept alive or answering) right now."""
        with self._connections_lock:
            return len(self._connections)

    def start(self) -> "FakeIOServer":
        """Serve in a background thread; returns self for chaining."""
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="fakeio", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close open keep-alive connections, release the port."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()


def make_server(
    config: Config, host: str = "127.0.0.1", port: int = 0, access_log: bool = False
) -> FakeIOServer:
    """Bind a simulator server (port 0 picks a free port; see `.url`); call `.start()`."""
    return FakeIOServer((host, port), Simulator(config), access_log=access_log)
