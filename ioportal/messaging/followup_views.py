"""A follow-up of a dispatch ("Invia un sollecito"), and leaving out of a list the citizens
who already received the same content.

Thin views: decorators, access helper, form, service, redirect or render.
"""

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from ioportal.accounts.access import require_role, role_required
from ioportal.accounts.http import AuthenticatedHttpRequest
from ioportal.accounts.models import Membership
from ioportal.core.errors import NotAllowed
from ioportal.ioservices.selectors import ioservices_usable_by
from ioportal.messaging import followups, repeated, selectors
from ioportal.messaging.access import get_recipient_list_for_user
from ioportal.messaging.dispatch_access import get_dispatch_for_user
from ioportal.messaging.forms import FollowUpForm
from ioportal.messaging.list_views import checked
from ioportal.recipients.models import RecipientList

OPERATOR = Membership.Role.OPERATOR


@role_required(OPERATOR)
def dispatch_follow_up(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """Choose who gets a follow-up of a dispatch and with which template; the list of those
    citizens is built, checked when its columns fit the template, and the normal compose
    flow continues from its check result (or its column mapping)."""
    membership = require_role(request, OPERATOR)
    origin = get_dispatch_for_user(request, public_id)
    if not followups.can_follow_up(origin):
        if origin.state == origin.State.CANCELLED and not followups.has_outcomes(origin):
            messages.error(
                request,
                _(
                    "Questo invio è stato annullato prima che IO desse un esito per qualche "
                    "messaggio: non c'è nessuno da sollecitare."
                ),
            )
        elif origin.state in followups.FOLLOW_UP_STATES and not followups.has_outcomes(origin):
            messages.error(
                request,
                _(
                    "Questo invio non ha ancora inviato nessun messaggio: il sollecito sarà "
                    "possibile quando ci saranno degli esiti."
                ),
            )
        else:
            messages.error(request, _("Questo invio non consente un sollecito."))
        return redirect("sending:dispatch_detail", public_id=origin.public_id)
    templates = selectors.templates_for_organization(organization=membership.organization)
    services = ioservices_usable_by(membership=membership)
    criteria = followups.criteria_for(origin)
    unavailable = followups.unavailable_criteria(origin, criteria)
    initial: dict[str, Any] = {"criterion": criteria[0].value}
    if origin.template is not None:
        initial["template"] = templates.filter(family=origin.template.family).first()
    if services.filter(pk=origin.service_id).exists():
        initial["service"] = origin.service_id
    form = FollowUpForm(
        request.POST or None,
        criteria=[(c.value, str(c.label)) for c in criteria],
        templates=templates,
        services=services,
        unavailable=unavailable,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            recipient_list = followups.follow_up_list_create(
                origin=origin,
                criterion=data["criterion"],
                days=data.get("days"),
                paid_by=data.get("paid_by"),
                template=data["template"],
                service=data["service"],
                actor=request.user,
                request=request,
            )
        except NotAllowed as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                ngettext(
                    "Elenco del sollecito pronto: %(n)s cittadino.",
                    "Elenco del sollecito pronto: %(n)s cittadini.",
                    recipient_list.row_count,
                )
                % {"n": recipient_list.row_count},
            )
            if recipient_list.state == RecipientList.State.VALIDATED:
                return redirect("messaging:list_result", public_id=recipient_list.public_id)
            return redirect("messaging:list_mapping", public_id=recipient_list.public_id)
    return render(
        request,
        "messaging/follow_up.html",
        {
            "origin": origin,
            "form": form,
            "has_services": services.exists(),
            # The fields of the criteria offered only (days to read, day of payment).
            "offered": [c.value for c in criteria],
            # Why read or payment cannot be chosen (a missing STOPPED needs no word).
            "not_offered": list(
                dict.fromkeys(
                    reason
                    for value, reason in unavailable.items()
                    if value != followups.Criterion.STOPPED
                )
            ),
        },
    )


@require_POST
@role_required(OPERATOR)
def list_exclude_repeated(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """Leave out the citizens who already received the same content (`repeated`), then back
    to the confirmation."""
    recipient_list = get_recipient_list_for_user(request, public_id)
    if (redirect_to := checked(recipient_list)) is not None:
        return redirect_to
    excluded = repeated.recipient_list_exclude_repeated(
        recipient_list=recipient_list, actor=request.user, request=request
    )
    if excluded:
        messages.success(
            request,
            ngettext(
                "Escluso %(n)s cittadino che ha ricevuto o riceverà lo stesso contenuto.",
                "Esclusi %(n)s cittadini che hanno ricevuto o riceveranno lo stesso contenuto.",
                excluded,
            )
            % {"n": excluded},
        )
    else:
        messages.info(request, _("Nessun cittadino da escludere."))
    return redirect("messaging:list_confirm", public_id=recipient_list.public_id)
