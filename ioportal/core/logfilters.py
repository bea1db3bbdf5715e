"""Filters and the formatter of the portal's logging configuration (settings.LOGGING)."""

import logging
import re
from datetime import datetime


class ExpectedForbidden(logging.Filter):
    """A 403 (PermissionDenied: a role or an organization that may not see a page) is an
    expected answer, not a fault: Django's `django.request` logs it with its traceback, which
    says nothing the status does not. This keeps one warning line with the path and the
    user's id (never a name or e-mail), without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != 403 or not record.exc_info:
            return True
        if not isinstance(record.args, tuple):
            return True
        request = getattr(record, "request", None)
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else "anonymous"
        record.msg = f"{record.msg} (user %s)"
        record.args = (*record.args, user_id)
        record.exc_info = None
        record.exc_text = None
        return True


# The URL segments that carry a secret: the invitation link (`/invito/<token>/`, not its
# token-less pages "accetta" and "rifiuta") and the password-reset link
# (`/password/reimposta/<uidb64>/<token>/`, not Django's token-less "set-password"). The views
# move the token to the session at once, but the first request line still holds it.
_SECRET_SEGMENT = r"[^/\s?#&\"'\\]+"
SECRET_PATHS = re.compile(
    rf"(?P<head>/invito/)(?!(?:accetta|rifiuta)/)(?P<secret>{_SECRET_SEGMENT})"
    rf"|(?P<reset_head>/password/reimposta/){_SECRET_SEGMENT}/(?!set-password\b)"
    rf"(?P<reset_secret>{_SECRET_SEGMENT})"
)
MASK = "***"


def mask_secret_paths(text: str) -> str:
    """`text` with the token of every invitation or password-reset path in it replaced by
    "***" (the uidb64 of a reset link too): "GET /account/invito/Ab3.../ HTTP/1.1" →
    "GET /account/invito/***/ HTTP/1.1". Other text is returned unchanged."""
    if "/invito/" not in text and "/password/reimposta/" not in text:
        return text

    def masked(match: re.Match[str]) -> str:
        if match.group("head"):
            return match.group("head") + MASK
        return f"{match.group('reset_head')}{MASK}/{MASK}"

    return SECRET_PATHS.sub(masked, text)


class SecretPaths(logging.Filter):
    """Masks the token of an invitation or password-reset URL (`mask_secret_paths`) in every
    record a handler writes: Django's request warnings ("Not Found: /account/invito/…/"),
    runserver's request lines (django.server), the portal's own refusals that name a path,
    gunicorn's access and error logs (core.accesslog). Set on handlers, not loggers: a
    logger's filter does not see the records its children propagate to it. The record is
    rewritten in place, so the handlers after this one (and the ones of other loggers it
    propagates to) get the masked text too."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: left to the handler to report
            return True
        masked = mask_secret_paths(message)
        if masked != message:
            record.msg = masked
            record.args = None
        if record.exc_text:
            record.exc_text = mask_secret_paths(record.exc_text)
        return True


class IsoTimeFormatter(logging.Formatter):
    """`%(asctime)s` as ISO 8601 with milliseconds and the UTC offset
    ("2026-12-06T22:18:14.855+01:00"): the portal's, django-q2's and gunicorn's lines
    (gunicorn.conf.py sets the same time zone) can be read side by side, whatever zone each
    process started in."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        moment = datetime.fromtimestamp(record.created).astimezone()
        return moment.isoformat(timespec="milliseconds")
