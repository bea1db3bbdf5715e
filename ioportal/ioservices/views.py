from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from ioportal.accounts.access import require_role, role_required
from ioportal.accounts.http import AuthenticatedHttpRequest
from ioportal.accounts.models import Membership
from ioportal.core.errors import NotAllowed
from ioportal.ioservices import selectors, services
from ioportal.ioservices.access import get_ioservice_for_user
from ioportal.ioservices.forms import ActiveSlotForm, IOServiceForm

KEY_FIELDS = ("primary_key", "secondary_key")


@role_required(Membership.Role.SUPERVISOR)
def ioservice_list(request: HttpRequest) -> HttpResponse:
    membership = require_role(request, Membership.Role.SUPERVISOR)
    return render(
        request,
        "ioservices/list.html",
        {
            "services": selectors.ioservices_for_organization(organization=membership.organization),
            "can_edit": membership.has_role(Membership.Role.ADMIN),
        },
    )


@sensitive_post_parameters(*KEY_FIELDS)
@role_required(Membership.Role.ADMIN)
def ioservice_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    membership = require_role(request, Membership.Role.ADMIN)
    form = IOServiceForm(
        request.POST or None,
        organization=membership.organization,
        user=request.user,
    )
    if request.method == "POST" and form.is_valid():
        try:
            service = services.ioservice_create(
                organization=membership.organization,
                actor=request.user,
                request=request,
                **form.service_kwargs(),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Servizio «%(name)s» registrato.") % {"name": service.name})
            return redirect("ioservices:detail", public_id=service.public_id)
    return render(request, "ioservices/form.html", {"form": form})


@login_required
def ioservice_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    """Settings of a service: read-only for supervisors; admins also see the keys' last four
    characters and dates, and the latest check."""
    service = get_ioservice_for_user(request, public_id, Membership.Role.SUPERVISOR)
    membership = require_role(request, Membership.Role.SUPERVISOR)
    is_admin = membership.has_role(Membership.Role.ADMIN)
    return render(
        request,
        "ioservices/detail.html",
        {
            "service": service,
            "is_admin": is_admin,
            "slots": service.slots() if is_admin else [],
            "check": selectors.latest_check(service=service),
            "members": service.allowed_members.select_related("user").order_by(
                "user__last_name", "user__username"
            ),
        },
    )


@sensitive_post_parameters(*KEY_FIELDS)
@login_required
def ioservice_edit(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    service = get_ioservice_for_user(request, public_id, Membership.Role.ADMIN)
    form = IOServiceForm(
        request.POST or None,
        organization=service.organization,
        user=request.user,
        instance=service,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.ioservice_update(
                service=service,
                actor=request.user,
                request=request,
                **form.service_kwargs(),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Servizio aggiornato."))
            return redirect("ioservices:detail", public_id=service.public_id)
    return render(request, "ioservices/form.html", {"form": form, "service": service})


@require_POST
@login_required
def ioservice_check(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    service = get_ioservice_for_user(request, public_id, Membership.Role.ADMIN)
    services.ioservice_check_request(
        service=service,
        actor=request.user,
        request=request,
    )
    messages.info(
        request,
        _("Verifica avviata: ricarica la pagina tra qualche secondo per vederne l'esito."),
    )
    return redirect("ioservices:detail", public_id=service.public_id)


@require_POST
@login_required
def ioservice_active_slot(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    service = get_ioservice_for_user(request, public_id, Membership.Role.ADMIN)
    form = ActiveSlotForm(request.POST)
    if form.is_valid():
        try:
            services.ioservice_set_active_slot(
                service=service,
                actor=request.user,
                slot=form.cleaned_data["active_slot"],
                request=request,
            )
        except NotAllowed as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Chiave in uso aggiornata."))
    else:
        messages.error(request, _("Scelta della chiave non valida."))
    return redirect("ioservices:detail", public_id=service.public_id)
