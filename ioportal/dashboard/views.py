"""The pages that show everything: the dashboard and the activity logs."""

from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from ioportal.accounts.access import require_role, role_required, superuser_required
from ioportal.accounts.http import AuthenticatedHttpRequest
from ioportal.accounts.models import Membership
from ioportal.core.audit import action_choices
from ioportal.core.greetings import is_evening
from ioportal.core.models import AuditEvent
from ioportal.dashboard import overview
from ioportal.dashboard.audit_display import change_lines, object_names
from ioportal.dashboard.forms import AuditFilterForm
from ioportal.dashboard.selectors import (
    audit_events_for_installation,
    audit_events_for_organization,
    sign_in_events_for_user,
)
from ioportal.ioservices.selectors import ioservices_with_key_problem
from ioportal.messaging.carnet import carnet_alerts_for


def greeting(name: str, moment: datetime | None = None) -> str:
    """ "Buongiorno, Anna" or, in the evening and at night (core.greetings.is_evening, the
    rule of the e-mails too), "Buonasera, Anna". `moment` (aware; default now) is read in
    the active time zone."""
    if not is_evening(moment):
        return _("Buongiorno, %(name)s") % {"name": name}
    return _("Buonasera, %(name)s") % {"name": name}


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Home page: what the signed-in user can do in the current organization."""
    membership = getattr(request, "membership", None)
    user = request.user
    context: dict[str, Any] = {
        "greeting": greeting(getattr(user, "first_name", "") or user.get_username())
    }
    if membership is not None and membership.has_role(Membership.Role.SUPERVISOR):
        period = request.GET.get("periodo", "")
        if period not in overview.PERIODS:
            period = "giorno"
        context["overview"] = overview.supervisor_overview(membership, period)
    elif membership is not None and membership.has_role(Membership.Role.OPERATOR):
        context["operator"] = overview.operator_overview(membership)
    if membership is not None and membership.has_role(Membership.Role.ADMIN):
        # Admins see the services with refused keys once, in their card (with what to do):
        # the health table of the overview leaves that row out for them.
        if "overview" in context:
            problems = context["overview"]["health"]["key_problem_services"]
        else:
            problems = list(ioservices_with_key_problem(organization=membership.organization))
        context["key_problem_services"] = problems
        context["carnet_alerts"] = carnet_alerts_for(organization_id=membership.organization_id)
    return render(request, "dashboard/dashboard.html", context)


def _with_change_lines(page: Page[AuditEvent]) -> Page[AuditEvent]:
    """The page with each event's `change_lines` ([(label, text)], `audit_display`)."""
    events = list(page.object_list)
    names = object_names(events)
    for event in events:
        event.change_lines = change_lines(event, names)  # type: ignore[attr-defined]
    page.object_list = events
    return page


def _audit_page(
    request: HttpRequest, events: QuerySet[AuditEvent], form: AuditFilterForm, title: str
) -> HttpResponse:
    page = _with_change_lines(Paginator(events, 50).get_page(request.GET.get("page")))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "dashboard/audit_list.html",
        {
            "page": page,
            "form": form,
            "filters": form.shown(),
            "actions": action_choices(),
            "query": query.urlencode(),
            "title": title,
        },
    )


@role_required(Membership.Role.SUPERVISOR)
def audit_list(request: HttpRequest) -> HttpResponse:
    """The audit trail of the current organization, filterable, 50 events a page."""
    membership = require_role(request, Membership.Role.SUPERVISOR)
    form = AuditFilterForm(request.GET)
    events = audit_events_for_organization(organization=membership.organization, **form.filters())
    return _audit_page(request, events, form, _("Registro attività"))


@superuser_required
def installation_audit_list(request: HttpRequest) -> HttpResponse:
    """Installation superusers: the events of no organization (sign-ins, second factor…)."""
    form = AuditFilterForm(request.GET)
    events = audit_events_for_installation(**form.filters())
    return _audit_page(request, events, form, _("Registro dell'installazione"))


@login_required
def my_sign_ins(request: AuthenticatedHttpRequest) -> HttpResponse:
    """ "I miei accessi": the signed-in person's own sign-in events, 50 a page."""
    events = sign_in_events_for_user(user=request.user)
    page = _with_change_lines(Paginator(events, 50).get_page(request.GET.get("page")))
    return render(request, "dashboard/my_sign_ins.html", {"page": page, "query": ""})
