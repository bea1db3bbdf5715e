import logging
import sys

from django.core.exceptions import PermissionDenied
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.utils.functional import Promise as StrPromise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

logger = logging.getLogger(__name__)

# Seconds a browser or client is asked to wait (Retry-After) when the database was busy.
DATABASE_BUSY_RETRY_AFTER = 5


class NotAllowed(Exception):
    """A service refuses an action that is not allowed now: the object's state does not permit
    it (a dispatch no longer awaiting approval, a key slot still empty) or the rule of the action
    excludes this person (approving one's own dispatch). The one way services say so; the view
    shows `message` (Italian, through gettext) and changes nothing. Input errors stay
    ValidationError, a role too low for the page stays PermissionDenied (403)."""

    default_message = gettext_lazy("Questa azione non è consentita ora.")

    def __init__(self, message: "str | StrPromise | None" = None) -> None:
        self.message = str(message or self.default_message)
        super().__init__(self.message)


class DeniedBecause(PermissionDenied):
    """A 403 whose page tells the real reason (`message`, Italian through gettext) instead of
    the generic "your role does not allow it": the person may open pages like this one, but
    not for this object."""

    def __init__(self, message: "str | StrPromise") -> None:
        self.message = str(message)
        super().__init__(self.message)


def error_page(request: HttpRequest, *, title: str, message: str, status: int) -> HttpResponse:
    """The portal's error page (`core/error.html`): a title and a sentence in Italian."""
    return render(request, "core/error.html", {"title": title, "message": message}, status=status)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = (
        exception.message
        if isinstance(exception, DeniedBecause)
        else _("Il tuo ruolo in questo ente non permette di aprire questa pagina.")
    )
    return error_page(request, title=_("Accesso non consentito"), message=message, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(
        request,
        title=_("Pagina non trovata"),
        message=_("La pagina non esiste o non appartiene all'ente in cui stai lavorando."),
        status=404,
    )


def is_database_busy(exception: BaseException | None) -> bool:
    """Whether `exception` is SQLite's "database is locked" (or "database table is locked",
    or the backend's own wait for a turn to write, `core.sqlitebackend`): another writer kept
    the lock past the database's `timeout`; the transaction was rolled back, nothing written."""
    return isinstance(exception, OperationalError) and "locked" in str(exception)


def database_busy(request: HttpRequest, exception: BaseException) -> HttpResponse:
    """503 with Retry-After (DATABASE_BUSY_RETRY_AFTER seconds) and a page saying to try again
    in a few seconds, for a request that waited too long for the database's write lock
    (`exception`). Logged here as a warning, once: the portal is busy, not broken (Django
    would log any 5xx as an error). Standalone (like 500.html), in the active language."""
    logger.warning(
        "database busy: %s %s answered 503 (%s)", request.method, request.path[:200], exception
    )
    html = loader.get_template("503.html").render()
    response = HttpResponse(html, status=503)
    response["Retry-After"] = str(DATABASE_BUSY_RETRY_AFTER)
    # Django's own mark for "already logged" (django.utils.log.log_response).
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page; the 503 of `database_busy` when the failure is the database's write lock
    held too long (`is_database_busy`), raised where `DatabaseBusyMiddleware` does not see it
    (in a middleware rather than a view)."""
    exception = sys.exc_info()[1]
    if exception is not None and is_database_busy(exception):
        return database_busy(request, exception)
    # No context processors: the failure may come from the database itself.
    html = loader.get_template("500.html").render()
    return HttpResponse(html, status=500)
