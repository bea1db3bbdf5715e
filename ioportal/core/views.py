from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from ioportal.accounts.access import require_role, role_required
from ioportal.accounts.models import Membership
from ioportal.core.forms import AuditFilterForm
from ioportal.core.selectors import audit_events_for_organization
from ioportal.core.services import Action
from ioportal.ioservices.selectors import ioservices_with_key_problem


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Home page: what the signed-in user can do in the current organization."""
    membership = getattr(request, "membership", None)
    context: dict[str, object] = {}
    if membership is not None and membership.has_role(Membership.Role.ADMIN):
        context["key_problem_services"] = list(
            ioservices_with_key_problem(organization=membership.organization)
        )
    return render(request, "core/dashboard.html", context)


@role_required(Membership.Role.SUPERVISOR)
def audit_list(request: HttpRequest) -> HttpResponse:
    """The audit trail of the current organization, filterable, 50 events a page."""
    membership = require_role(request, Membership.Role.SUPERVISOR)
    form = AuditFilterForm(request.GET)
    events = audit_events_for_organization(organization=membership.organization, **form.filters())
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "core/audit_list.html",
        {
            "page": page,
            "form": form,
            "filters": {name: form[name].value() or "" for name in form.fields},
            "actions": Action.choices,
            "query": query.urlencode(),
        },
    )


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
