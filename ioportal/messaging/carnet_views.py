"""The Premium carnets of a service (ioservices.PremiumCarnet) with what each has used:
admins only, each service through `get_ioservice_for_user`. The pages live here, not in
ioservices, because the usage is counted from the deliveries (`messaging.carnet`)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ioportal.accounts.access import parse_public_id, role_required
from ioportal.accounts.http import AuthenticatedHttpRequest
from ioportal.accounts.models import Membership
from ioportal.ioservices.access import get_ioservice_for_user
from ioportal.ioservices.forms import PremiumCarnetForm
from ioportal.ioservices.models import IOService, PremiumCarnet
from ioportal.ioservices.services import carnet as carnet_services
from ioportal.messaging.carnet import carnet_usage

ADMIN = Membership.Role.ADMIN


def _carnet(service: IOService, carnet_id: str) -> PremiumCarnet:
    carnet = service.premium_carnets.filter(public_id=parse_public_id(carnet_id)).first()
    if carnet is None:
        raise Http404
    return carnet


@role_required(ADMIN)
def carnet_list(request: HttpRequest, public_id: str) -> HttpResponse:
    service = get_ioservice_for_user(request, public_id, ADMIN)
    carnets = list(service.premium_carnets.select_related("created_by"))
    return render(
        request,
        "messaging/carnet_list.html",
        {"service": service, "usages": [carnet_usage(carnet) for carnet in carnets]},
    )


@role_required(ADMIN)
def carnet_create(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    service = get_ioservice_for_user(request, public_id, ADMIN)
    form = PremiumCarnetForm(request.POST or None, service=service)
    if request.method == "POST" and form.is_valid():
        try:
            carnet_services.premium_carnet_create(
                service=service, actor=request.user, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Carnet Premium registrato."))
            return redirect("messaging:carnet_list", public_id=service.public_id)
    return render(request, "messaging/carnet_form.html", {"service": service, "form": form})


@role_required(ADMIN)
def carnet_edit(request: AuthenticatedHttpRequest, public_id: str, carnet_id: str) -> HttpResponse:
    service = get_ioservice_for_user(request, public_id, ADMIN)
    carnet = _carnet(service, carnet_id)
    initial = {
        "starts_on": carnet.starts_on,
        "ends_on": carnet.ends_on,
        "purchased": carnet.purchased,
        "note": carnet.note,
    }
    form = PremiumCarnetForm(request.POST or None, initial=initial, service=service, carnet=carnet)
    if request.method == "POST" and form.is_valid():
        try:
            carnet_services.premium_carnet_update(
                carnet=carnet, actor=request.user, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Carnet Premium aggiornato."))
            return redirect("messaging:carnet_list", public_id=service.public_id)
    return render(
        request,
        "messaging/carnet_form.html",
        {"service": service, "form": form, "carnet": carnet},
    )


@require_POST
@role_required(ADMIN)
def carnet_delete(
    request: AuthenticatedHttpRequest, public_id: str, carnet_id: str
) -> HttpResponse:
    service = get_ioservice_for_user(request, public_id, ADMIN)
    carnet = _carnet(service, carnet_id)
    carnet_services.premium_carnet_delete(carnet=carnet, actor=request.user, request=request)
    messages.success(request, _("Carnet Premium eliminato."))
    return redirect("messaging:carnet_list", public_id=service.public_id)
