from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from ioportal.core.errors import error_page


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A clear page instead of Django's technical one when a form has no valid token."""
    return error_page(
        request,
        title=_("Modulo scaduto"),
        message=_(
            "Il modulo non è più valido (la pagina era aperta da troppo tempo o i cookie "
            "sono disattivati). Torna indietro, ricarica la pagina e riprova."
        ),
        status=403,
    )
