from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from ioportal.accounts import services as accounts_services
from ioportal.accounts.access import require_role, role_required
from ioportal.accounts.http import AuthenticatedHttpRequest
from ioportal.accounts.models import Membership, Organization
from ioportal.retention.forms import RetentionForm
from ioportal.retention.services import purge_preview


@role_required(Membership.Role.ADMIN)
def retention_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Admins set `retention_days`. A shorter value that would make finished dispatches or
    reachability checks due for the next purge is saved only after a confirmation page
    showing how many dispatches and deliveries, and how many checks and fiscal codes, lose
    their personal data (a second POST with `confirmed`)."""
    membership = require_role(request, Membership.Role.ADMIN)
    organization = Organization.objects.get(pk=membership.organization_id)
    form = RetentionForm(
        request.POST or None, initial={"retention_days": organization.retention_days}
    )
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["retention_days"]
        if days < organization.retention_days and not form.cleaned_data["confirmed"]:
            preview = purge_preview(organization=organization, days=days)
            if preview.anything:
                return render(
                    request,
                    "retention/confirm.html",
                    {"preview": preview, "current": organization.retention_days},
                )
        accounts_services.organization_update(
            organization=organization, actor=request.user, request=request, retention_days=days
        )
        messages.success(request, _("Conservazione dei dati salvata."))
        return redirect("retention:settings")
    return render(
        request,
        "retention/settings.html",
        {"form": form, "current": organization.retention_days},
    )
