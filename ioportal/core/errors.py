from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.utils.functional import Promise as StrPromise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


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


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors: the failure may come from the database itself.
    html = loader.get_template("500.html").render()
    return HttpResponse(html, status=500)
