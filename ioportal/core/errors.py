from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.utils.translation import gettext as _


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(
        request,
        "core/error.html",
        {
            "title": _("Accesso non consentito"),
            "message": _("Il tuo ruolo in questo ente non permette di aprire questa pagina."),
        },
        status=403,
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(
        request,
        "core/error.html",
        {
            "title": _("Pagina non trovata"),
            "message": _("La pagina non esiste o non appartiene all'ente in cui stai lavorando."),
        },
        status=404,
    )


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors: the failure may come from the database itself.
    html = loader.get_template("500.html").render()
    return HttpResponse(html, status=500)
