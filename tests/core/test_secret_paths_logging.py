"""No log line holds the token of an invitation or password-reset link: Django's request
warnings, runserver's request lines, the portal's own refusals and gunicorn's access and
error logs all write such a path with its token masked."""

import io
import logging
import runpy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from gunicorn.config import Config

from ioportal.core.logfilters import mask_secret_paths

TOKEN = "Zq7-Secret_Token-4f9XkLm2"
RESET_TOKEN = "cd1x2v-0123456789abcdef0123456789abcdef"


@contextmanager
def handler_output(logger_name: str = "") -> Iterator[io.StringIO]:
    """What the configured handlers of `logger_name` (the root by default) write."""
    logger = logging.getLogger(logger_name or None)
    stream = io.StringIO()
    handlers = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
    assert handlers, logger_name
    previous = [h.setStream(stream) for h in handlers]
    try:
        yield stream
    finally:
        for handler, old in zip(handlers, previous, strict=True):
            handler.setStream(old)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"GET /account/invito/{TOKEN}/ HTTP/1.1", "GET /account/invito/***/ HTTP/1.1"),
        (f"Not Found: /account/invito/{TOKEN}/x/", "Not Found: /account/invito/***/x/"),
        (f"'/account/invito/{TOKEN}\\x00/'", "'/account/invito/***\\x00/'"),
        (
            f"GET /account/password/reimposta/MQ/{RESET_TOKEN}/ HTTP/1.1",
            "GET /account/password/reimposta/***/***/ HTTP/1.1",
        ),
        # The token-less pages stay readable.
        ("GET /account/invito/accetta/ HTTP/1.1", "GET /account/invito/accetta/ HTTP/1.1"),
        ("GET /account/invito/rifiuta/ HTTP/1.1", "GET /account/invito/rifiuta/ HTTP/1.1"),
        (
            "GET /account/password/reimposta/MQ/set-password/ HTTP/1.1",
            "GET /account/password/reimposta/MQ/set-password/ HTTP/1.1",
        ),
        ("GET /account/password/reimposta/inviata/", "GET /account/password/reimposta/inviata/"),
        ("GET /account/inviti/ HTTP/1.1", "GET /account/inviti/ HTTP/1.1"),
    ],
)
def test_mask_secret_paths(text: str, expected: str) -> None:
    assert mask_secret_paths(text) == expected


@pytest.mark.django_db
def test_request_warnings_and_refusals_never_show_the_invitation_token(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO), handler_output() as output:
        # A link with something appended (404: Django's "Not Found" warning with the path).
        assert client.get(f"/account/invito/{TOKEN}/x/").status_code == 404
        # A NUL byte: the portal's own refusal, then Django's "Bad Request" warning.
        assert client.get(f"/account/invito/{TOKEN}%00/").status_code == 400
        # A broken reset link.
        assert client.get(f"/account/password/reimposta/MQ/{RESET_TOKEN}/x/").status_code == 404
    written = output.getvalue()
    assert "Not Found: /account/invito/***/x/" in written
    assert "request refused: NUL byte" in written and "Bad Request" in written
    assert "/account/password/reimposta/***/***/x/" in written
    assert caplog.records
    everything = written + caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert TOKEN not in everything
    assert RESET_TOKEN not in everything


def test_runserver_request_lines_never_show_the_token() -> None:
    server_log = logging.getLogger("django.server")
    with handler_output("django.server") as output:
        server_log.info(
            '"%s" %s %s',
            f"GET /account/invito/{TOKEN}/ HTTP/1.1",
            "302",
            "0",
            extra={"status_code": 302, "server_time": "06/Dec/2026 21:00:00"},
        )
    assert '"GET /account/invito/***/ HTTP/1.1" 302 0' in output.getvalue()
    assert TOKEN not in output.getvalue()


def gunicorn_logger(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """The logger gunicorn builds from the shipped gunicorn.conf.py."""
    shipped = runpy.run_path(str(Path(settings.BASE_DIR) / "gunicorn.conf.py"))
    config = Config()
    for name in ("logger_class", "accesslog", "errorlog", "access_log_format"):
        config.set(name, shipped[name])
    return config.logger_class(config)


def test_gunicorn_access_and_error_logs_never_show_the_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logger = gunicorn_logger(capsys)
    path = f"/account/invito/{TOKEN}/"
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": path,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    response = SimpleNamespace(status="302 Found", sent=0, headers=[("Location", "/x/")])
    request = SimpleNamespace(headers=[("Host", "portale.invalid")])
    logger.access(response, request, environ, timedelta(milliseconds=5))
    logger.error("Error handling request %s", path)
    logger.access(
        response,
        request,
        {**environ, "RAW_URI": f"/account/password/reimposta/MQ/{RESET_TOKEN}/"},
        timedelta(milliseconds=5),
    )
    out, err = capsys.readouterr()
    assert '"GET /account/invito/***/ HTTP/1.1" 302' in out
    assert '"GET /account/password/reimposta/***/***/ HTTP/1.1" 302' in out
    assert "Error handling request /account/invito/***/" in err
    assert TOKEN not in out + err and RESET_TOKEN not in out + err


def test_log_lines_carry_their_moment_with_its_utc_offset() -> None:
    """The portal's lines (and django-q2's, through the same handler) say their moment as ISO
    8601 with the offset, so they read side by side with gunicorn's."""
    import logging.config
    import re

    formatter = logging.config.dictConfigClass(settings.LOGGING).configure_formatter(
        settings.LOGGING["formatters"]["plain"]
    )
    record = logging.LogRecord("django-q", logging.INFO, __file__, 1, "Enqueued", (), None)
    record.created = 1_796_600_000.25  # 2026-12-06T...Z
    line = formatter.format(record)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.250[+-]\d\d:\d\d INFO django-q Enqueued", line
    ), line


def test_gunicorn_runs_in_the_portals_time_zone_without_a_shared_control_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """gunicorn.conf.py: the master's and workers' lines in the portal's time zone; no control
    socket, whose default path every gunicorn of the user on the machine would share."""
    import os
    import time

    monkeypatch.delenv("TZ", raising=False)  # as gunicorn's master starts, before Django
    try:
        shipped = runpy.run_path(str(Path(settings.BASE_DIR) / "gunicorn.conf.py"))
        assert os.environ["TZ"] == settings.TIME_ZONE
    finally:
        monkeypatch.undo()
        time.tzset()
    config = Config()
    config.set("control_socket_disable", shipped["control_socket_disable"])
    assert config.control_socket_disable is True


ISO_MOMENT = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d"


def test_gunicorn_lines_start_with_their_moment_as_the_portals_do(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """gunicorn's error and access lines begin with the moment in ISO 8601 with the offset,
    as the portal's and django-q2's lines do (not "[06/Dec/2026:22:44:21 +0100]")."""
    import re

    logger = gunicorn_logger(capsys)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/invii/",
        "PATH_INFO": "/invii/",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    request = SimpleNamespace(headers=[("Host", "portale.invalid")])
    logger.access(response, request, environ, timedelta(milliseconds=5))
    logger.error("Worker timeout")
    out, err = capsys.readouterr()
    assert re.match(ISO_MOMENT + r' 127\.0\.0\.1 - - "GET /invii/ HTTP/1\.1" 200 10', out), out
    assert re.match(ISO_MOMENT + r" \[\d+\] \[ERROR\] Worker timeout", err), err


def test_e_mails_are_dated_in_the_portals_time_zone(mailoutbox: Any) -> None:
    from django.core.mail import send_mail

    send_mail("Oggetto", "Testo", "portale@example.invalid", ["a@example.invalid"])
    assert mailoutbox[0].message()["Date"].endswith(("+0100", "+0200"))
