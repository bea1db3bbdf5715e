"""HTTP client for the IO services API (the calls an entity makes to send messages).

One `IOClient` per IO service key. Clients of one IO account share a `ConnectionPool` (a
`requests.Session` whose HTTPAdapter is sized to the calls in flight), so connections are
kept alive across calls and threads; a client without a pool gets its own.
The client never retries: retries belong to the delivery state machine, which needs to know
whether a request may have reached IO (see errors.py). Every call is logged through the
`ioportal.ioapi.client` logger with the operation, HTTP status, outcome, duration and the
masked fiscal code; the subscription key is never logged nor put in an exception.

Note for logging configuration: urllib3 logs request lines at DEBUG on the
`urllib3.connectionpool` logger, and GET /messages/{fiscal_code}/{id} carries the fiscal code
in its path; keep that logger at INFO or above in production.
"""

import functools
import logging
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ClosedPoolError, EmptyPoolError, NewConnectionError

from . import messages_it as it
from .errors import (
    AmbiguousError,
    FieldError,
    IOApiError,
    KeyRejectedError,
    NotFoundError,
    PayloadInvalidError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from .fiscalcode import mask_fiscal_code, mask_fiscal_codes_in_text, normalize_fiscal_code
from .payloads import (
    NewMessage,
    build_message_payload,
    build_profile_payload,
    validate_fiscal_code,
)
from .results import CallInfo, CreatedMessage, MessageInfo, Profile, SubscriptionsFeed

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection, BaseHTTPSConnection

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.io.pagopa.it/api/v1"
KEY_HEADER = "Ocp-Apim-Subscription-Key"
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 15.0
# Pooled connections left idle longer than this are closed when next taken from the pool,
# before a request is written on them (ConnectionPool explains the value).
DEFAULT_MAX_IDLE_SECONDS = 5.0
# Used when a 429 carries no usable wait; PagoPA's own bulk tool waited 5 s (IO-API.md §5).
DEFAULT_RETRY_AFTER = 5.0
MIN_RETRY_AFTER = 1.0
MAX_RETRY_AFTER = 300.0
MAX_DETAIL_CHARS = 500

_T = TypeVar("_T")


@dataclass(frozen=True)
class Operation:
    """One IO operation: `path` is relative to the base URL; `operation_id` names it in the
    official spec (checked by the contract tests)."""

    name: str
    method: str
    path: str
    operation_id: str


GET_PROFILE = Operation("get_profile", "POST", "/profiles", "getProfileByPOST")
GET_SUBSCRIPTIONS_FEED = Operation(
    "get_subscriptions_feed", "GET", "/subscriptions-feed/{date}", "getSubscriptionsFeedForDate"
)
SUBMIT_MESSAGE = Operation(
    "submit_message", "POST", "/messages", "submitMessageforUserWithFiscalCodeInBody"
)
GET_MESSAGE = Operation("get_message", "GET", "/messages/{fiscal_code}/{id}", "getMessage")
OPERATIONS = (GET_PROFILE, GET_SUBSCRIPTIONS_FEED, SUBMIT_MESSAGE, GET_MESSAGE)


class _UnreadableBody(Exception):
    """A 2xx answer whose body does not have the documented shape."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the exceptions it wraps (args, urllib3's `reason`, explicit `__cause__`).

    `__context__` is not followed: it may hold an unrelated exception that was being handled.
    """
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
        if current.__cause__ is not None:
            stack.append(current.__cause__)


def _wraps(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    return any(isinstance(inner, kinds) for inner in _chain(exc))


def classify_transport_error(exc: requests.RequestException) -> tuple[type[IOApiError], str]:
    """Map a requests exception (no HTTP answer) to an error class and an English description.

    Sent or not sent is decided by where urllib3 failed (urllib3 `Retry` docs: connect errors
    happen "before the request is sent to the remote server", read errors "after"):
    - ConnectTimeout; ConnectionError caused by NewConnectionError (refused, DNS failure,
      unreachable; NameResolutionError is a subclass); closed/empty pool: not sent, Transient.
    - SSLError caused by certificate verification: raised in the TLS handshake, before any
      byte of the request, so Transient. Other TLS errors can also surface while reading the
      answer (urllib3 raises SSLError from `getresponse`), so they are Ambiguous.
    - ProxyError: urllib3 raises it only while connecting to the proxy: Transient.
    - ReadTimeout, any other ConnectionError (ProtocolError, RemoteDisconnected, reset),
      ChunkedEncodingError, ContentDecodingError, anything unknown: Ambiguous. A TLS handshake
      that times out is reported by urllib3 as a read timeout, so it lands here too: the safe
      side for a submission.
    - Invalid URL/schema/header: a bug or bad configuration, nothing sent: Permanent.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return TransientError, "connect timeout, request not sent"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return AmbiguousError, "read timeout after the request was sent"
    if isinstance(exc, requests.exceptions.SSLError):
        if _wraps(exc, (ssl.SSLCertVerificationError, ssl.CertificateError)):
            return TransientError, "TLS certificate rejected, request not sent"
        return AmbiguousError, "TLS error, possibly after the request was sent"
    if isinstance(exc, requests.exceptions.ProxyError):
        return TransientError, "cannot connect to the proxy, request not sent"
    if isinstance(exc, requests.exceptions.ConnectionError):
        if _wraps(exc, (NewConnectionError, ClosedPoolError, EmptyPoolError)):
            return TransientError, "cannot connect (refused, DNS or unreachable), request not sent"
        return AmbiguousError, "connection closed or reset after the request was sent"
    if isinstance(
        exc,
        (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidHeader,
            requests.exceptions.InvalidJSONError,
            requests.exceptions.URLRequired,
        ),
    ):
        return PermanentError, "invalid request, not sent (check the base URL)"
    if isinstance(
        exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)
    ):
        return AmbiguousError, "answer interrupted or undecodable"
    return AmbiguousError, "unexpected transport error"


def _seconds_from_header(raw: str, *, allow_http_date: bool, now: datetime) -> float | None:
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        if not allow_http_date:
            return None
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())
    if seconds != seconds or seconds < 0:  # NaN or negative: not a usable wait
        return None
    return seconds


_TRY_AGAIN_RE = re.compile(r"try again in (\d+(?:\.\d+)?) seconds?", re.IGNORECASE)


def _seconds_from_body(body: object) -> float | None:
    if not isinstance(body, dict):
        return None
    for key in ("message", "detail"):
        text = body.get(key)
        if isinstance(text, str):
            match = _TRY_AGAIN_RE.search(text)
            if match:
                return float(match.group(1))
    return None


def parse_retry_after(
    headers: Mapping[str, str], body: object, *, now: datetime | None = None
) -> tuple[float, str]:
    """Seconds to wait after a 429 and where the value came from.

    Order: `x-rate-limit-retry-after` (what IO's gateway is configured to send), `Retry-After`
    (seconds or HTTP date), the gateway's JSON body "... Try again in N seconds.", then
    DEFAULT_RETRY_AFTER. Unusable values fall through to the next source. The result is kept
    within [MIN_RETRY_AFTER, MAX_RETRY_AFTER] so a bad header cannot stall or hammer.
    `headers` must be case-insensitive (as requests' are).
    """
    now = now or datetime.now(UTC)
    seconds: float | None = None
    source = "default"
    raw = headers.get("x-rate-limit-retry-after")
    if raw:
        seconds = _seconds_from_header(raw, allow_http_date=False, now=now)
        source = "x-rate-limit-retry-after"
    if seconds is None and (raw := headers.get("Retry-After")):
        seconds = _seconds_from_header(raw, allow_http_date=True, now=now)
        source = "retry-after"
    if seconds is None:
        seconds = _seconds_from_body(body)
        source = "body"
    if seconds is None:
        return DEFAULT_RETRY_AFTER, "default"
    return min(MAX_RETRY_AFTER, max(MIN_RETRY_AFTER, seconds)), source


def _parse_int(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None


def _json_body(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


class _NoAuth(AuthBase):
    """IO authenticates by the subscription key header: no request credentials (this also
    spares requests a look for ~/.netrc on every request)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


class _Session(requests.Session):
    """A Session that reads the environment's proxy and CA-bundle settings once per host
    (scheme and host:port) instead of on every request: requests otherwise scans the whole
    environment for proxies each time, a measurable share of a call's CPU at hundreds of
    calls a second. The settings are read when the host is first called."""

    def __init__(self) -> None:
        super().__init__()
        self.auth = _NoAuth()
        self._environment: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._environment_lock = threading.Lock()

    def merge_environment_settings(  # type: ignore[override]
        self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        if proxies:  # a caller's own proxies: requests' ordinary merge
            return dict(super().merge_environment_settings(url, proxies, stream, verify, cert))
        key = (*urlsplit(url)[:2], stream, verify, cert)
        settings = self._environment.get(key)
        if settings is None:
            settings = dict(super().merge_environment_settings(url, proxies, stream, verify, cert))
            with self._environment_lock:
                self._environment[key] = settings
        return {**settings, "proxies": dict(settings["proxies"])}


class _ReleaseStamp:
    """When a pooled connection last went back to its pool (`time.monotonic()` seconds)."""

    released_at: float | None = None


class _StampedHTTPConnection(_ReleaseStamp, HTTPConnection):
    pass


class _StampedHTTPSConnection(_ReleaseStamp, HTTPSConnection):
    pass


class _IdleCheckedHTTPPool(HTTPConnectionPool):
    """urllib3's pool for one host, where a connection idle longer than `max_idle_seconds`
    is closed when taken from the pool (and so reopened before the request is written).

    urllib3 hands out connections last in, first out: when fewer calls are in flight, the
    connections at the bottom of the pool sit idle while the others keep working, so the age
    is checked per connection. Each connection is stamped when it goes back to the pool: for
    requests (which reads the body before returning), that is when its answer has been
    read. The stamp is read and written only by the thread holding the connection.
    """

    ConnectionCls: "type[BaseHTTPConnection] | type[BaseHTTPSConnection]" = _StampedHTTPConnection

    def __init__(self, *args: Any, max_idle_seconds: float | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_idle_seconds = max_idle_seconds

    def _get_conn(self, timeout: float | None = None) -> "BaseHTTPConnection":
        conn = super()._get_conn(timeout)
        released_at = conn.released_at if isinstance(conn, _ReleaseStamp) else None
        if (
            self.max_idle_seconds is not None
            and released_at is not None
            and not conn.is_closed
            and time.monotonic() - released_at > self.max_idle_seconds
        ):
            logger.debug("Closing a connection idle for over %g s", self.max_idle_seconds)
            conn.close()  # urllib3 connects again on the next request
        return conn

    def _put_conn(self, conn: "BaseHTTPConnection | None") -> None:
        if isinstance(conn, _ReleaseStamp):
            conn.released_at = time.monotonic()
        super()._put_conn(conn)


class _IdleCheckedHTTPSPool(_IdleCheckedHTTPPool, HTTPSConnectionPool):
    ConnectionCls = _StampedHTTPSConnection


class _IdleCheckedAdapter(HTTPAdapter):
    """An HTTPAdapter whose urllib3 pools (direct or through an HTTP proxy) are the
    idle-checked ones; SOCKS proxies keep urllib3's own pools (no idle check).

    It also remembers, per scheme, host and TLS settings, which urllib3 pool a request
    goes to (`build_connection_pool_key_attributes`): requests works it out again for every
    request, with a look at the file system when the CA bundle is a path (as it is whenever
    REQUESTS_CA_BUNDLE is set), ~4 % of a worker's CPU in the fairness benchmark."""

    def __init__(self, *, max_idle_seconds: float | None, **kwargs: Any) -> None:
        self._pool_keys: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        # A PoolManager makes each host's pool as pool_classes_by_scheme[scheme](host, port,
        # **context) (urllib3's own SOCKSProxyManager replaces that mapping the same way).
        self._pool_classes: dict[str, Any] = {
            "http": functools.partial(_IdleCheckedHTTPPool, max_idle_seconds=max_idle_seconds),
            "https": functools.partial(_IdleCheckedHTTPSPool, max_idle_seconds=max_idle_seconds),
        }
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[Any, Any]:
        """requests' answer for the request's scheme and host (with its port) and these TLS
        settings, computed once (the same inputs always give the same answer). Copies, so
        a caller cannot change what is remembered."""
        cert_key = tuple(cert) if isinstance(cert, list) else cert
        key = (*urlsplit(request.url or "")[:2], verify, cert_key)
        found = self._pool_keys.get(key)
        if found is None:
            found = super().build_connection_pool_key_attributes(request, verify, cert)
            self._pool_keys[key] = found
        return dict(found[0]), dict(found[1])

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = self._pool_classes
        return manager


class ConnectionPool:
    """Keep-alive HTTP connections to IO shared by the clients of one account in one process.

    `maxsize` connections per host (size it to the calls made at once: more callers wait
    for a free connection, never open extra ones). Thread-safe: requests' Session and
    urllib3's pools may be used by several threads, and each connection's idle age is
    touched only by the thread holding it.

    A connection left idle longer than `max_idle_seconds` is closed when a call takes it,
    before the request is written, whatever else is in flight; the call opens a new one.
    A server closes idle keep-alive connections on its own clock: if it does so while our
    request is on its way, the request gets a reset after sending, i.e. an AmbiguousError
    and, for a submission, a delivery someone must check by hand. Reusing only connections
    idle for well under the server's idle timeout avoids that race.

    The default, DEFAULT_MAX_IDLE_SECONDS = 5 s, is well under the idle timeouts of the
    gateways in front of IO (Azure API Management and Azure load balancers: typically 4 min
    or 60 s) and of the IO simulator (60 s by default, 30 s in the sending tests and the
    fairness benchmark; an `idle_timeout` under 10 s wants a smaller value here). It is not
    shorter because sending is bursty: the account's limiter grants calls per 5 s window,
    so connections often wait a few seconds between bursts. In the fairness benchmark (20
    accounts, 40,000 calls, one run each) 1 s opened 5,089 connections at 5.7 ms of worker
    CPU per delivery, 5 s opened 950 at 5.3 ms; with IO each new connection is also a TLS
    handshake. None keeps idle connections forever (urllib3 still replaces a connection
    whose close it has already seen).
    """

    def __init__(
        self,
        *,
        maxsize: int = 4,
        max_idle_seconds: float | None = DEFAULT_MAX_IDLE_SECONDS,
        user_agent: str = "ioportal-ioapi/1",
    ) -> None:
        self.maxsize = max(1, maxsize)
        self.max_idle_seconds = max_idle_seconds
        self.session = _Session()
        self.session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
        # max_retries=0: urllib3 must never resend a POST on its own. pool_block: callers
        # beyond maxsize wait for a connection instead of opening and discarding one.
        adapter = _IdleCheckedAdapter(
            max_idle_seconds=max_idle_seconds,
            pool_connections=4,
            pool_maxsize=self.maxsize,
            max_retries=0,
            pool_block=True,
        )
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def close(self) -> None:
        self.session.close()


class IOClient:
    """Client of the IO services API for one subscription key (one IO service).

    Thread-safe when given a `pool` (the pool is shared, the client holds no other state);
    without one it makes its own, for one caller at a time. Calls never retry; each raises
    one of the classes in errors.py on failure. Use as a context manager or call `close()`
    (which closes only a pool the client made).
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        pool_maxsize: int = 4,
        max_idle_seconds: float | None = DEFAULT_MAX_IDLE_SECONDS,
        user_agent: str = "ioportal-ioapi/1",
        pool: ConnectionPool | None = None,
    ) -> None:
        """`read_timeout` bounds each wait for data, not the whole call. `max_idle_seconds`
        is the longest a pooled connection may sit idle and still be reused (see
        ConnectionPool; None: no limit); it and `pool_maxsize` apply only to a pool the
        client makes itself."""
        # A key with whitespace or control characters would break or inject headers; the
        # message must not echo the key.
        if not api_key.isascii() or not api_key.isprintable() or " " in api_key or not api_key:
            raise ValueError("api_key must be a non-empty string without spaces")
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self._owns_pool = pool is None
        self._pool = pool or ConnectionPool(
            maxsize=pool_maxsize, max_idle_seconds=max_idle_seconds, user_agent=user_agent
        )
        self._session = self._pool.session

    def __repr__(self) -> str:
        return f"IOClient(base_url={self.base_url!r})"

    def __enter__(self) -> "IOClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections, when the pool is the client's own."""
        if self._owns_pool:
            self._pool.close()

    # -- operations ---------------------------------------------------------------------------

    def get_profile(self, fiscal_code: str) -> Profile:
        """Check whether the citizen can receive messages from this service (POST /profiles).

        The fiscal code travels in the body, not the URL. Read-only on IO: safe to retry on any
        error. Raises PayloadInvalidError (bad fiscal code, nothing sent); NotFoundError when
        the citizen has no IO profile or disabled the inbox; PermanentError 403 "Recipient
        forbidden" for a service in test mode and a citizen not among its authorized
        recipients; RateLimitedError, TransientError, AmbiguousError, KeyRejectedError.
        A Profile with `sender_allowed` False means the citizen blocked this service.
        """
        payload = build_profile_payload(fiscal_code)
        return self._call(
            GET_PROFILE,
            GET_PROFILE.path,
            json_body=payload,
            fiscal_code=payload["fiscal_code"],
            parse=self._parse_profile,
        )

    def get_subscriptions_feed(self, day: date) -> SubscriptionsFeed:
        """Hashes of citizens who subscribed to / unsubscribed from this service on `day` (UTC).

        Read-only, safe to retry. Available from 00:00 UTC of the next day; before that IO
        answers NotFoundError with title "Data not available yet". Needs the IO group
        ApiSubscriptionsFeedRead (otherwise PermanentError 403). Other errors as get_profile.
        """
        path = GET_SUBSCRIPTIONS_FEED.path.format(date=day.strftime("%Y-%m-%d"))
        return self._call(
            GET_SUBSCRIPTIONS_FEED, path, json_body=None, fiscal_code=None, parse=self._parse_feed
        )

    def submit_message(
        self, message: NewMessage, *, max_allowed_payment_amount: int | None = None
    ) -> CreatedMessage:
        """Send one message to one citizen (POST /messages, fiscal code in the body).

        Side effect: IO stores the message and delivers it asynchronously; a 201 means
        accepted, not delivered (poll `get_message`). NOT idempotent: IO takes no idempotency
        key, so a resend can deliver a duplicate. Never resend after AmbiguousError, nor after
        TransientError with `maybe_processed` True unless the installation accepts that risk.
        Safe to retry: RateLimitedError, TransientError with `maybe_processed` False.
        Raises PayloadInvalidError before any call when the message breaks IO's limits;
        PermanentError for 400/403 (IO's problem title/detail kept) and KeyRejectedError.
        """
        payload = build_message_payload(
            message, max_allowed_payment_amount=max_allowed_payment_amount
        )
        return self._call(
            SUBMIT_MESSAGE,
            SUBMIT_MESSAGE.path,
            json_body=payload,
            fiscal_code=payload["fiscal_code"],
            parse=self._parse_created,
        )

    def get_message(self, fiscal_code: str, message_id: str) -> MessageInfo:
        """Status of a message this service sent (GET /messages/{fiscal_code}/{id}).

        Read-only, safe to retry. The fiscal code is part of the URL (IO's design). Raises
        PayloadInvalidError for a bad fiscal code or empty id (nothing sent); NotFoundError for
        an unknown id; PermanentError 403 when the message was sent by another service;
        TransientError on 5xx (IO computes payment_status live through pagoPA, which can fail).
        """
        errors = validate_fiscal_code(fiscal_code)
        if not message_id.strip():
            errors.append(FieldError.of("id", it.MESSAGE_ID_REQUIRED))
        if errors:
            raise PayloadInvalidError(errors)
        normalized = normalize_fiscal_code(fiscal_code)
        path = GET_MESSAGE.path.format(
            fiscal_code=quote(normalized, safe=""), id=quote(message_id, safe="")
        )
        return self._call(
            GET_MESSAGE, path, json_body=None, fiscal_code=normalized, parse=self._parse_message
        )

    # -- parsing of 2xx bodies ----------------------------------------------------------------

    @staticmethod
    def _parse_profile(body: Any, response: requests.Response, call: CallInfo) -> Profile:
        if not isinstance(body, dict) or not isinstance(body.get("sender_allowed"), bool):
            raise _UnreadableBody("profile without boolean sender_allowed")
        languages = body.get("preferred_languages") or []
        if not isinstance(languages, list):
            raise _UnreadableBody("preferred_languages is not a list")
        return Profile(
            sender_allowed=body["sender_allowed"],
            preferred_languages=tuple(lang for lang in languages if isinstance(lang, str)),
            call=call,
        )

    @staticmethod
    def _parse_feed(body: Any, response: requests.Response, call: CallInfo) -> SubscriptionsFeed:
        if not isinstance(body, dict):
            raise _UnreadableBody("feed is not an object")
        try:
            day = date.fromisoformat(body["dateUTC"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _UnreadableBody("feed without a valid dateUTC") from exc
        lists: list[tuple[str, ...]] = []
        for key in ("subscriptions", "unsubscriptions"):
            values = body.get(key)
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise _UnreadableBody(f"feed {key} is not a list of strings")
            lists.append(tuple(v.lower() for v in values))
        return SubscriptionsFeed(
            date_utc=day, subscriptions=lists[0], unsubscriptions=lists[1], call=call
        )

    @staticmethod
    def _parse_created(body: Any, response: requests.Response, call: CallInfo) -> CreatedMessage:
        message_id = body.get("id") if isinstance(body, dict) else None
        location = response.headers.get("Location")
        if (not isinstance(message_id, str) or not message_id) and location:
            # The Location header ends with the id: /api/v1/messages/{fiscal_code}/{id}.
            message_id = location.rstrip("/").rsplit("/", 1)[-1]
        if not isinstance(message_id, str) or not message_id:
            raise _UnreadableBody("message accepted but no id in the answer")
        return CreatedMessage(id=message_id, call=call)

    @staticmethod
    def _parse_message(body: Any, response: requests.Response, call: CallInfo) -> MessageInfo:
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("id"), str):
            raise _UnreadableBody("answer without message.id")
        created_at: datetime | None = None
        if isinstance(message.get("created_at"), str):
            try:
                created_at = datetime.fromisoformat(message["created_at"])
            except ValueError:
                created_at = None
        return MessageInfo(
            id=message["id"],
            fiscal_code=_str_or_none(message.get("fiscal_code")) or "",
            created_at=created_at,
            sender_service_id=_str_or_none(message.get("sender_service_id")),
            feature_level_type=_str_or_none(message.get("feature_level_type")),
            status_raw=_str_or_none(body.get("status")),
            read_status_raw=_str_or_none(body.get("read_status")),
            payment_status_raw=_str_or_none(body.get("payment_status")),
            call=call,
        )

    # -- transport ----------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """Make text from IO or from requests safe for messages and logs."""
        text = text.replace(self._api_key, "[redacted]")
        text = mask_fiscal_codes_in_text(text)
        if len(text) > MAX_DETAIL_CHARS:
            text = text[:MAX_DETAIL_CHARS] + "…"
        return text

    def _log(self, call: CallInfo, error: IOApiError | None = None) -> None:
        # DEBUG whatever the outcome: a 404 (not on IO) or a 429 is routine in a large
        # dispatch, the caller decides what deserves a warning, and the pipeline records every
        # call as an ApiCall row. At INFO, the line of every call of a worker process's
        # hundreds of request threads queued them on the log handler's lock (py-spy on the
        # fairness benchmark: a quarter of the request threads' time), delaying every answer.
        logger.debug(
            "IO %s status=%s outcome=%s duration_ms=%d cf=%s remaining=%s%s",
            call.operation,
            call.status_code if call.status_code is not None else "-",
            call.outcome,
            call.duration_ms,
            call.fiscal_code_masked or "-",
            call.rate_limit_remaining if call.rate_limit_remaining is not None else "-",
            f" error={error}" if error is not None else "",
        )

    def _call(
        self,
        op: Operation,
        path: str,
        *,
        json_body: dict[str, Any] | None,
        fiscal_code: str | None,
        parse: Callable[[Any, requests.Response, CallInfo], _T],
    ) -> _T:
        masked = mask_fiscal_code(fiscal_code) if fiscal_code else None

        def call_info(status: int | None, remaining: int | None, outcome: str) -> CallInfo:
            duration_ms = int((time.monotonic() - started) * 1000)
            return CallInfo(op.name, op.method, status, duration_ms, outcome, masked, remaining)

        started = time.monotonic()
        try:
            response = self._session.request(
                op.method,
                self.base_url + path,
                json=json_body,
                headers={KEY_HEADER: self._api_key},
                timeout=self.timeout,
                # A redirect would turn the POST into a GET elsewhere; treat it as an error.
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            error_class, description = classify_transport_error(exc)
            call = call_info(None, None, error_class.__name__)
            text = f"{type(exc).__name__}: {self._scrub(str(exc))}"
            error = error_class(f"{op.name}: {description} ({text})", call=call)
            self._log(call, error)
            # `from None`: the chained requests exception carries the URL, which holds the
            # fiscal code for get_message; `text` keeps its scrubbed description.
            raise error from None

        status = response.status_code
        remaining = _parse_int(response.headers.get("x-rate-limit-remaining"))
        body = _json_body(response)
        if 200 <= status < 300:
            ok_call = call_info(status, remaining, "ok")
            try:
                result = parse(body, response, ok_call)
            except _UnreadableBody as exc:
                # For a submission a 2xx means IO accepted the message: without its id the
                # outcome cannot be tracked, so it must not be resent.
                error_class = AmbiguousError if op is SUBMIT_MESSAGE else TransientError
                call = call_info(status, remaining, error_class.__name__)
                error = error_class(f"{op.name}: HTTP {status}, unreadable body: {exc}", call=call)
                self._log(call, error)
                raise error from None
            self._log(ok_call)
            return result
        error = self._error_for_status(op, response, body, status, remaining, call_info)
        if error.call is not None:
            self._log(error.call, error)
        raise error

    def _error_for_status(
        self,
        op: Operation,
        response: requests.Response,
        body: Any,
        status: int,
        remaining: int | None,
        call_info: Callable[[int | None, int | None, str], CallInfo],
    ) -> IOApiError:
        problem = body if isinstance(body, dict) else {}
        title = _str_or_none(problem.get("title"))
        # problem+json has `detail`; the gateway's own errors have `message`.
        raw_detail = _str_or_none(problem.get("detail")) or _str_or_none(problem.get("message"))
        detail = self._scrub(raw_detail) if raw_detail else None
        summary = " ".join(part for part in (title, detail) if part) or response.reason or ""
        message = f"{op.name}: HTTP {status} {self._scrub(summary)}".rstrip()

        if status == 429:
            retry_after, source = parse_retry_after(response.headers, body)
            call = call_info(status, remaining, RateLimitedError.__name__)
            return RateLimitedError(
                f"{message} (retry after {retry_after:g} s from {source})",
                retry_after=retry_after,
                retry_after_source=source,
                call=call,
            )
        if status >= 500 or status == 408:
            call = call_info(status, remaining, TransientError.__name__)
            return TransientError(message, maybe_processed=op is SUBMIT_MESSAGE, call=call)

        error_class: type[PermanentError] = PermanentError
        if status == 401:
            error_class = KeyRejectedError
        elif status == 404:
            error_class = NotFoundError
        problem_status = problem.get("status")
        return error_class(
            message,
            title=title,
            detail=detail,
            problem_status=problem_status if isinstance(problem_status, int) else None,
            problem_type=_str_or_none(problem.get("type")),
            call=call_info(status, remaining, error_class.__name__),
        )
