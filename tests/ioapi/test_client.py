"""IOClient against `responses`: what goes over the wire and how every answer is classified."""

import json
import logging
import ssl
import traceback
from datetime import UTC, date, datetime
from http.client import RemoteDisconnected
from typing import Any

import pytest
import requests
import responses
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import (
    ClosedPoolError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError

from ioportal.ioapi import (
    AmbiguousError,
    FeatureLevel,
    IOApiError,
    IOClient,
    KeyRejectedError,
    MessageStatus,
    NotFoundError,
    PayloadInvalidError,
    PaymentStatus,
    PermanentError,
    RateLimitedError,
    ReadStatus,
    TransientError,
    describe_error_it,
    parse_retry_after,
)

from . import samples as s

PROFILES_URL = f"{s.BASE_URL}/profiles"
MESSAGES_URL = f"{s.BASE_URL}/messages"
MESSAGE_URL = f"{s.BASE_URL}/messages/{s.CF}/{s.MESSAGE_ID}"
FEED_URL = f"{s.BASE_URL}/subscriptions-feed/2026-03-01"


def _problem(status: int, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return {
        "status": status,
        "json": body,
        "content_type": "application/problem+json",
        **kwargs,
    }


# -- requests on the wire ----------------------------------------------------------------------


def test_get_profile_posts_fiscal_code_in_body(
    rsps: responses.RequestsMock, client: IOClient
) -> None:
    rsps.post(
        PROFILES_URL,
        json=s.PROFILE_ALLOWED,
        headers={"x-rate-limit-remaining": "149"},
        match=[responses.matchers.json_params_matcher({"fiscal_code": s.CF})],
    )
    profile = client.get_profile(s.CF.lower())
    assert profile.sender_allowed is True
    assert profile.preferred_languages == ("it_IT",)
    assert profile.call.status_code == 200
    assert profile.call.rate_limit_remaining == 149
    assert profile.call.outcome == "ok"
    assert profile.call.fiscal_code_masked == "RSS************S"
    request = rsps.calls[0].request
    assert request.headers["Ocp-Apim-Subscription-Key"] == s.API_KEY
    assert request.headers["Content-Type"] == "application/json"
    assert s.CF not in (request.url or "")


def test_profile_sender_not_allowed(rsps: responses.RequestsMock, client: IOClient) -> None:
    rsps.post(PROFILES_URL, json=s.PROFILE_BLOCKED)
    profile = client.get_profile(s.CF)
    assert profile.sender_allowed is False
    assert profile.preferred_languages == ()
    assert profile.call.rate_limit_remaining is None


def test_invalid_fiscal_code_is_refused_before_any_call(client: IOClient) -> None:
    # No `rsps` fixture active would mean a real network call: use it and register nothing.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        with pytest.raises(PayloadInvalidError) as excinfo:
            client.get_profile("RSSMRA85T10A562X")
        with pytest.raises(PayloadInvalidError):
            client.get_message(s.CF, " ")
        assert len(mock.calls) == 0
    assert excinfo.value.errors[0].field == "fiscal_code"
    assert excinfo.value.call is None


def test_submit_message_sends_built_payload(rsps: responses.RequestsMock, client: IOClient) -> None:
    message = s.MESSAGE_VARIANTS["payment_with_payee"]
    rsps.post(
        MESSAGES_URL,
        status=201,
        json=s.CREATED,
        headers={"Location": f"/api/v1/messages/{s.CF}/{s.MESSAGE_ID}"},
    )
    created = client.submit_message(message)
    assert created.id == s.MESSAGE_ID
    assert created.call.status_code == 201
    assert s.CF not in repr(created)
    sent = json.loads(rsps.calls[0].request.body or b"")
    assert sent["fiscal_code"] == s.CF
    assert sent["content"]["payment_data"]["payee"] == {"fiscal_code": s.PAYEE_FISCAL_CODE}


def test_submit_invalid_message_sends_nothing(client: IOClient) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        with pytest.raises(PayloadInvalidError):
            client.submit_message(s.new_message(subject="short"))
        assert len(mock.calls) == 0


def test_submit_takes_id_from_location_when_body_lacks_it(
    rsps: responses.RequestsMock, client: IOClient
) -> None:
    rsps.post(
        MESSAGES_URL,
        status=201,
        body="",
        headers={"Location": f"/api/v1/messages/{s.CF}/{s.MESSAGE_ID}"},
    )
    assert client.submit_message(s.new_message()).id == s.MESSAGE_ID


def test_submit_accepted_without_id_is_ambiguous(
    rsps: responses.RequestsMock, client: IOClient
) -> None:
    rsps.post(MESSAGES_URL, status=201, body="<html>ok</html>")
    with pytest.raises(AmbiguousError) as excinfo:
        client.submit_message(s.new_message())
    assert excinfo.value.status_code == 201


def test_get_message_advanced(rsps: responses.RequestsMock, client: IOClient) -> None:
    rsps.get(MESSAGE_URL, json=s.MESSAGE_ADVANCED_PAID)
    info = client.get_message(s.CF, s.MESSAGE_ID)
    assert info.id == s.MESSAGE_ID
    assert info.fiscal_code == s.CF
    assert info.created_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert info.status is MessageStatus.PROCESSED
    assert info.is_final
    assert info.read_status is ReadStatus.READ
    assert info.payment_status is PaymentStatus.PAID
    assert info.feature_level_type == FeatureLevel.ADVANCED
    assert info.call.fiscal_code_masked == "RSS************S"
    assert s.CF not in repr(info)


def test_get_message_accepted_is_not_final(rsps: responses.RequestsMock, client: IOClient) -> None:
    rsps.get(MESSAGE_URL, json=s.MESSAGE_ACCEPTED)
    info = client.get_message(s.CF, s.MESSAGE_ID)
    assert info.status is MessageStatus.ACCEPTED
    assert not info.is_final
    assert info.read_status is None and info.read_status_raw is None
    assert info.payment_status is None


def test_unknown_status_values_are_kept(rsps: responses.RequestsMock, client: IOClient) -> None:
    body = {**s.MESSAGE_ACCEPTED, "status": "ARCHIVED", "read_status": "SEEN_TWICE"}
    rsps.get(MESSAGE_URL, json=body)
    info = client.get_message(s.CF, s.MESSAGE_ID)
    assert info.status is None
    assert info.status_raw == "ARCHIVED"
    assert info.read_status_raw == "SEEN_TWICE"
    assert not info.is_final


def test_get_message_escapes_the_id(rsps: responses.RequestsMock, client: IOClient) -> None:
    rsps.get(f"{s.BASE_URL}/messages/{s.CF}/a%2F..%2Fb", json=s.MESSAGE_ACCEPTED)
    client.get_message(s.CF, "a/../b")


def test_subscriptions_feed(rsps: responses.RequestsMock, client: IOClient) -> None:
    rsps.get(FEED_URL, json=s.FEED)
    feed = client.get_subscriptions_feed(date(2026, 3, 1))
    assert feed.date_utc == date(2026, 3, 1)
    assert feed.subscriptions == tuple(s.FEED["subscriptions"])
    assert feed.unsubscriptions == ()


def test_feed_accepts_a_datetime_as_day(rsps: responses.RequestsMock, client: IOClient) -> None:
    rsps.get(FEED_URL, json=s.FEED)
    client.get_subscriptions_feed(datetime(2026, 3, 1, 23, 30, tzinfo=UTC))


def test_feed_not_ready_is_not_found(rsps: responses.RequestsMock, client: IOClient) -> None:
    rsps.get(FEED_URL, **_problem(404, s.PROBLEM_FEED_NOT_READY))
    with pytest.raises(NotFoundError) as excinfo:
        client.get_subscriptions_feed(date(2026, 3, 1))
    assert excinfo.value.title == "Data not available yet"
    assert "non sono ancora disponibili" in describe_error_it(excinfo.value)


@pytest.mark.parametrize(
    "body",
    [None, {"sender_allowed": "yes"}, {"preferred_languages": ["it_IT"]}, [1, 2]],
)
def test_unreadable_2xx_on_a_read_is_transient(
    rsps: responses.RequestsMock, client: IOClient, body: Any
) -> None:
    if body is None:
        rsps.post(PROFILES_URL, body="<html>gateway</html>", content_type="text/html")
    else:
        rsps.post(PROFILES_URL, json=body)
    with pytest.raises(TransientError) as excinfo:
        client.get_profile(s.CF)
    assert excinfo.value.maybe_processed is False


def test_redirects_are_not_followed(rsps: responses.RequestsMock, client: IOClient) -> None:
    rsps.post(MESSAGES_URL, status=301, headers={"Location": "https://elsewhere.test/"})
    with pytest.raises(PermanentError) as excinfo:
        client.submit_message(s.new_message())
    assert excinfo.value.status_code == 301
    assert len(rsps.calls) == 1


# -- HTTP error statuses -----------------------------------------------------------------------


def test_400_keeps_problem_json(rsps: responses.RequestsMock, client: IOClient) -> None:
    rsps.post(MESSAGES_URL, **_problem(400, s.PROBLEM_INVALID_MESSAGE))
    with pytest.raises(PermanentError) as excinfo:
        client.submit_message(s.new_message())
    error = excinfo.value
    assert type(error) is PermanentError
    assert error.status_code == 400
    assert error.title == "Invalid message structure"
    assert error.problem_status == 400
    # IO echoes the fiscal code in its decode report: kept masked.
    assert error.detail is not None and "RSS************S" in error.detail
    assert s.CF not in str(error)
    assert error.call is not None and error.call.outcome == "PermanentError"


def test_401_is_key_rejected(rsps: responses.RequestsMock, client: IOClient) -> None:
    rsps.post(PROFILES_URL, status=401, json=s.GATEWAY_KEY_INVALID)
    with pytest.raises(KeyRejectedError) as excinfo:
        client.get_profile(s.CF)
    assert isinstance(excinfo.value, PermanentError)
    assert excinfo.value.title is None
    assert excinfo.value.detail is not None and "invalid subscription key" in excinfo.value.detail
    assert "chiave API" in describe_error_it(excinfo.value)


def test_403_recipient_forbidden(rsps: responses.RequestsMock, client: IOClient) -> None:
    rsps.post(MESSAGES_URL, **_problem(403, s.PROBLEM_RECIPIENT_FORBIDDEN))
    with pytest.raises(PermanentError) as excinfo:
        client.submit_message(s.new_message())
    assert excinfo.value.is_recipient_forbidden
    assert "modalità di test" in describe_error_it(excinfo.value)


def test_404_profile_not_found(rsps: responses.RequestsMock, client: IOClient) -> None:
    rsps.post(PROFILES_URL, **_problem(404, s.PROBLEM_PROFILE_NOT_FOUND))
    with pytest.raises(NotFoundError) as excinfo:
        client.get_profile(s.CF)
    assert excinfo.value.title == "Profile not found"
    assert "non usa l'app IO" in describe_error_it(excinfo.value)


@pytest.mark.parametrize("status", [405, 409, 413, 422])
def test_other_4xx_are_permanent(
    rsps: responses.RequestsMock, client: IOClient, status: int
) -> None:
    rsps.get(MESSAGE_URL, status=status, body="")
    with pytest.raises(PermanentError) as excinfo:
        client.get_message(s.CF, s.MESSAGE_ID)
    assert excinfo.value.status_code == status


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_5xx_on_a_read_is_transient(
    rsps: responses.RequestsMock, client: IOClient, status: int
) -> None:
    rsps.get(MESSAGE_URL, status=status, json={"title": "Internal server error"})
    with pytest.raises(TransientError) as excinfo:
        client.get_message(s.CF, s.MESSAGE_ID)
    assert excinfo.value.maybe_processed is False
    assert excinfo.value.status_code == status


@pytest.mark.parametrize("status", [500, 503, 504])
def test_5xx_on_submission_may_have_been_processed(
    rsps: responses.RequestsMock, client: IOClient, status: int
) -> None:
    rsps.post(MESSAGES_URL, status=status, body="")
    with pytest.raises(TransientError) as excinfo:
        client.submit_message(s.new_message())
    assert excinfo.value.maybe_processed is True
    assert "potrebbe essere stato" in describe_error_it(excinfo.value)


# -- 429 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "body", "expected", "source"),
    [
        ({"x-rate-limit-retry-after": "3"}, None, 3.0, "x-rate-limit-retry-after"),
        (
            {"x-rate-limit-retry-after": "2", "Retry-After": "9"},
            s.GATEWAY_RATE_LIMITED,
            2.0,
            "x-rate-limit-retry-after",
        ),
        ({"Retry-After": "9"}, s.GATEWAY_RATE_LIMITED, 9.0, "retry-after"),
        ({"x-rate-limit-retry-after": "soon", "Retry-After": "6"}, None, 6.0, "retry-after"),
        ({}, s.GATEWAY_RATE_LIMITED, 4.0, "body"),
        ({"Retry-After": "-1"}, s.GATEWAY_RATE_LIMITED, 4.0, "body"),
        ({}, {"statusCode": 429}, 5.0, "default"),
        ({}, None, 5.0, "default"),
        ({"x-rate-limit-retry-after": "0"}, None, 1.0, "x-rate-limit-retry-after"),
        ({"x-rate-limit-retry-after": "86400"}, None, 300.0, "x-rate-limit-retry-after"),
    ],
)
def test_429_retry_after_sources_in_order(
    rsps: responses.RequestsMock,
    client: IOClient,
    headers: dict[str, str],
    body: Any,
    expected: float,
    source: str,
) -> None:
    if body is None:
        rsps.post(MESSAGES_URL, status=429, body="", headers=headers)
    else:
        rsps.post(MESSAGES_URL, status=429, json=body, headers=headers)
    with pytest.raises(RateLimitedError) as excinfo:
        client.submit_message(s.new_message())
    assert excinfo.value.retry_after == expected
    assert excinfo.value.retry_after_source == source
    assert excinfo.value.status_code == 429


def test_retry_after_http_date() -> None:
    now = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
    headers = CaseInsensitiveDict({"Retry-After": "Sun, 01 Mar 2026 10:00:12 GMT"})
    assert parse_retry_after(headers, None, now=now) == (12.0, "retry-after")


def test_429_keeps_remaining_header(rsps: responses.RequestsMock, client: IOClient) -> None:
    headers = {"x-rate-limit-retry-after": "1", "x-rate-limit-remaining": "0"}
    rsps.post(PROFILES_URL, status=429, json=s.GATEWAY_RATE_LIMITED, headers=headers)
    with pytest.raises(RateLimitedError) as excinfo:
        client.get_profile(s.CF)
    assert excinfo.value.call is not None
    assert excinfo.value.call.rate_limit_remaining == 0


# -- transport failures ------------------------------------------------------------------------


def _refused() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] refused")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, f"/api/v1/messages/{s.CF}/x", reason))  # type: ignore[arg-type]


def _dns_failure() -> requests.ConnectionError:
    import socket

    reason = NameResolutionError("io.example.test", None, socket.gaierror(-2, "Name unknown"))  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, "/api/v1/profiles", reason))  # type: ignore[arg-type]


def _reset_after_send() -> requests.ConnectionError:
    return requests.ConnectionError(
        ProtocolError("Connection aborted.", RemoteDisconnected("Remote end closed connection"))
    )


def _closed_pool() -> requests.ConnectionError:
    return requests.ConnectionError(ClosedPoolError(None, "Pool is closed."))  # type: ignore[arg-type]


def _certificate_rejected() -> requests.exceptions.SSLError:
    inner = ssl.SSLCertVerificationError(1, "certificate verify failed: unable to get issuer")
    return requests.exceptions.SSLError(
        MaxRetryError(None, "/api/v1/messages", Urllib3SSLError(inner))  # type: ignore[arg-type]
    )


def _tls_eof() -> requests.exceptions.SSLError:
    inner = ssl.SSLEOFError(8, "EOF occurred in violation of protocol")
    return requests.exceptions.SSLError(
        MaxRetryError(None, "/api/v1/messages", Urllib3SSLError(inner))  # type: ignore[arg-type]
    )


TRANSPORT_CASES = [
    ("connect_timeout", lambda: requests.exceptions.ConnectTimeout("timed out"), TransientError),
    ("refused", _refused, TransientError),
    ("dns", _dns_failure, TransientError),
    ("closed_pool", _closed_pool, TransientError),
    ("certificate", _certificate_rejected, TransientError),
    ("proxy", lambda: requests.exceptions.ProxyError("proxy refused"), TransientError),
    ("read_timeout", lambda: requests.exceptions.ReadTimeout("read timed out"), AmbiguousError),
    ("reset_after_send", _reset_after_send, AmbiguousError),
    ("tls_eof", _tls_eof, AmbiguousError),
    ("chunked", lambda: requests.exceptions.ChunkedEncodingError("broken"), AmbiguousError),
    ("decoding", lambda: requests.exceptions.ContentDecodingError("bad gzip"), AmbiguousError),
    ("unknown", lambda: requests.RequestException("???"), AmbiguousError),
    ("invalid_url", lambda: requests.exceptions.InvalidURL("bad"), PermanentError),
]


@pytest.mark.parametrize(
    ("factory", "expected"),
    [(factory, expected) for _, factory, expected in TRANSPORT_CASES],
    ids=[name for name, _, _ in TRANSPORT_CASES],
)
def test_transport_failures_on_submission(
    rsps: responses.RequestsMock, client: IOClient, factory: Any, expected: type[IOApiError]
) -> None:
    rsps.post(MESSAGES_URL, body=factory())
    with pytest.raises(IOApiError) as excinfo:
        client.submit_message(s.new_message())
    assert type(excinfo.value) is expected
    assert excinfo.value.status_code is None
    assert excinfo.value.call is not None
    assert excinfo.value.call.outcome == expected.__name__
    if isinstance(excinfo.value, TransientError):
        assert excinfo.value.maybe_processed is False


def test_transport_error_hides_fiscal_code_of_the_url(
    rsps: responses.RequestsMock, client: IOClient
) -> None:
    rsps.get(MESSAGE_URL, body=_refused())
    with pytest.raises(TransientError) as excinfo:
        client.get_message(s.CF, s.MESSAGE_ID)
    text = "".join(traceback.format_exception(excinfo.value))
    assert s.CF not in text
    assert "RSS************S" in text
    assert excinfo.value.__cause__ is None


# -- secrets and personal data -----------------------------------------------------------------

SECRET_SCENARIOS: list[tuple[str, dict[str, Any]]] = [
    ("ok", {"status": 201, "json": s.CREATED}),
    ("400", _problem(400, {**s.PROBLEM_INVALID_MESSAGE, "detail": f"bad key {s.API_KEY}"})),
    ("401", {"status": 401, "json": s.GATEWAY_KEY_INVALID}),
    ("403", _problem(403, s.PROBLEM_RECIPIENT_FORBIDDEN)),
    ("429", {"status": 429, "json": s.GATEWAY_RATE_LIMITED}),
    ("500", {"status": 500, "body": f"echo {s.API_KEY} {s.CF}"}),
    ("read_timeout", {"body": requests.exceptions.ReadTimeout(f"timeout {s.CF}")}),
    ("refused", {"body": _refused()}),
    ("reset", {"body": _reset_after_send()}),
]


@pytest.mark.parametrize(
    "kwargs", [kw for _, kw in SECRET_SCENARIOS], ids=[n for n, _ in SECRET_SCENARIOS]
)
def test_key_and_fiscal_code_never_in_logs_or_errors(
    rsps: responses.RequestsMock,
    client: IOClient,
    caplog: pytest.LogCaptureFixture,
    kwargs: dict[str, Any],
) -> None:
    caplog.set_level(logging.DEBUG)
    rsps.post(MESSAGES_URL, **kwargs)
    texts = [repr(client)]
    try:
        client.submit_message(s.new_message())
    except IOApiError as error:
        texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
        texts += [describe_error_it(error), repr(vars(error))]
    assert caplog.records, "every call is logged"
    texts += [record.getMessage() for record in caplog.records]
    texts.append(caplog.text)
    for text in texts:
        assert s.API_KEY not in text
        assert s.CF not in text


def test_each_call_logged_with_operation_status_duration(
    rsps: responses.RequestsMock, client: IOClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ioportal.ioapi")
    rsps.post(PROFILES_URL, json=s.PROFILE_ALLOWED, headers={"x-rate-limit-remaining": "12"})
    rsps.post(MESSAGES_URL, **_problem(403, s.PROBLEM_RECIPIENT_FORBIDDEN))
    client.get_profile(s.CF)
    with pytest.raises(PermanentError):
        client.submit_message(s.new_message())
    first, second = caplog.records
    # DEBUG: every call is an ApiCall row; at INFO the lines of a worker's hundreds of
    # request threads queued them on the log handler's lock.
    assert first.levelno == logging.DEBUG
    assert "IO get_profile status=200 outcome=ok duration_ms=" in first.getMessage()
    assert "cf=RSS************S remaining=12" in first.getMessage()
    assert second.levelno == logging.DEBUG
    assert "IO submit_message status=403 outcome=PermanentError" in second.getMessage()
    assert "Recipient forbidden" in second.getMessage()


def test_client_rejects_malformed_key_without_echoing_it() -> None:
    with pytest.raises(ValueError) as excinfo:
        IOClient("abc\r\nX-Injected: 1")
    assert "abc" not in str(excinfo.value)
    with pytest.raises(ValueError):
        IOClient("")


def test_timeouts_and_no_retries_configured(rsps: responses.RequestsMock, client: IOClient) -> None:
    rsps.post(PROFILES_URL, json=s.PROFILE_ALLOWED)
    client.get_profile(s.CF)
    assert rsps.calls[0].request.req_kwargs["timeout"] == (5.0, 15.0)  # type: ignore[attr-defined]
    adapter = client._session.get_adapter("https://api.io.pagopa.it")
    assert adapter.max_retries.total == 0  # type: ignore[attr-defined]
