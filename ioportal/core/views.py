from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A clear page instead of Django's technical one when a form has no valid token."""
    return render(
        request,
        "core/error.html",
        {
            "title": _("Modulo scaduto"),
            "message": _(
                "Il modulo non è più valido (la pagina era aperta da troppo tempo o i cookie "
                "sono disattivati). Torna indietro, ricarica la pagina e riprova."
            ),
        },
        status=403,
    )
