import logging
from collections.abc import Callable
from typing import Any

from django.db import DataError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template import loader
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _

from ioportal.core.errors import database_busy, error_page, is_database_busy, page_not_found

logger = logging.getLogger(__name__)

Handler = Callable[[HttpRequest], HttpResponse]

# The largest value of a 64-bit signed integer column (BigAutoField, BigIntegerField).
MAX_DB_INTEGER = 2**63 - 1


def bad_request_response() -> HttpResponse:
    """The 400 page: standalone (like 500.html), since it may be answered before the session
    and the user are known."""
    return HttpResponseBadRequest(loader.get_template("400.html").render())


def _has_nul(value: Any) -> bool:
    return isinstance(value, str) and "\x00" in value


class HostileInputMiddleware:
    """Refuses, before anything reads them, inputs no page can use and that break the database.

    - A NUL byte anywhere in the path, the query string, the form fields, the names of
      uploaded files, the cookies or the headers: 400. PostgreSQL cannot store or even compare
      a text with NUL ("A string literal cannot contain NUL"), so one such byte in any filter
      would otherwise be a 500.
    - An integer path parameter (`<int:...>`) beyond a 64-bit database integer: 404 (no row
      can have that id; SQLite raises OverflowError when binding it).
    - A `DataError` or `OverflowError` escaping a view (a value the database cannot hold that
      a form failed to bound): 400, logged with its traceback so that the form gets fixed.
      Forms must bound their values themselves; this is the safety net behind them.

    First in the middleware list (after SecurityMiddleware), so that the session and the
    authentication never look a NUL-bearing cookie up.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._carries_nul(request):
            logger.info("request refused: NUL byte in %s %r", request.method, request.path[:200])
            return bad_request_response()
        return self.get_response(request)

    @staticmethod
    def _carries_nul(request: HttpRequest) -> bool:
        if _has_nul(request.path_info) or "%00" in request.META.get("QUERY_STRING", ""):
            return True
        if any(_has_nul(key) or _has_nul(value) for key, value in request.META.items()):
            return True
        if any(_has_nul(key) or _has_nul(value) for key, value in request.COOKIES.items()):
            return True
        if any(_has_nul(v) for key, values in request.GET.lists() for v in [key, *values]):
            return True
        if request.method == "POST":
            fields = request.POST.lists()
            if any(_has_nul(v) for key, values in fields for v in [key, *values]):
                return True
            uploads = [upload for _key, files in request.FILES.lists() for upload in files]
            if any(_has_nul(upload.name) for upload in uploads):
                return True
        return False

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        for value in [*view_args, *view_kwargs.values()]:
            if isinstance(value, int) and not -MAX_DB_INTEGER <= value <= MAX_DB_INTEGER:
                return page_not_found(request)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DataError | OverflowError):
            logger.warning(
                "request refused: a value the database cannot hold reached it (%s %s)",
                request.method,
                request.path[:200],
                exc_info=exception,
            )
            return bad_request_response()
        return None


class DatabaseBusyMiddleware:
    """A view that gave up waiting for SQLite's write lock ("database is locked": another
    request or a worker held it past the database's `timeout`) answers 503 with Retry-After
    and a page asking to try again in a few seconds (`errors.database_busy`, which logs it
    as a warning): the portal is busy, not broken, and nothing was written. Any other exception
    goes on to Django's handling (500). The same failure in a middleware reaches
    `errors.server_error`, which answers the same 503."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_busy(exception):
            return None
        return database_busy(request, exception)


class NoStoreForSignedInMiddleware:
    """Every answer to a signed-in user carries `Cache-Control: no-store`: pages of the portal
    show personal data (fiscal codes in previews and deliveries, the audit log, mapping
    samples), which no browser or proxy cache may keep after the session ends. An answer that
    sets its own Cache-Control keeps it, with no-store added when missing."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            if "Cache-Control" not in response:
                response["Cache-Control"] = "no-store"
            elif "no-store" not in response["Cache-Control"]:
                patch_cache_control(response, no_store=True)
        return response


class SecurityHeadersMiddleware:
    """Headers Django does not set itself: a strict Content-Security-Policy.

    Every script and style is served by the portal itself; no CDN is ever allowed.
    """

    POLICY = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "font-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'; "
        "object-src 'none'"
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.POLICY)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        return response


class MethodNotAllowedPageMiddleware:
    """A 405 with an empty body (`require_POST` and the like, e.g. a download button's URL
    opened by hand) gets the portal's error page in Italian, with the same status and Allow
    header: never a blank page."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 405 or getattr(response, "streaming", False):
            return response
        if response.content:
            return response
        page = error_page(
            request,
            title=_("Pagina non disponibile così"),
            message=_(
                "Questa pagina si apre solo dal pulsante che la richiama: torna alla pagina "
                "precedente e usa il pulsante."
            ),
            status=405,
        )
        if response.has_header("Allow"):
            page["Allow"] = response["Allow"]
        return page
