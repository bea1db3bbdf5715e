"""The hand-off page of a dispatch and its downloads, for supervisors and admins: operators
get 403, another organization's dispatch 404 (messaging.dispatch_access)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ioportal.accounts.access import require_role, role_required
from ioportal.accounts.http import AuthenticatedHttpRequest
from ioportal.accounts.models import Membership
from ioportal.core.errors import NotAllowed
from ioportal.messaging import availability
from ioportal.messaging.dispatch_access import SUPERVISE, get_dispatch_for_user
from ioportal.messaging.retention import personal_data_purged, personal_data_until
from ioportal.reports import handoff

OPERATOR = Membership.Role.OPERATOR


class HandoffDownloadForm(forms.Form):
    formato = forms.ChoiceField(choices=[(f, f) for f in handoff.FORMATS])
    motivo = forms.ChoiceField(
        choices=[("", "")] + [(r.key, r.key) for r in handoff.REASONS], required=False
    )


@role_required(OPERATOR)  # the dispatch's access rule decides: 404 or 403
def handoff_page(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """Counts per reason, until when the list is available, the download buttons."""
    dispatch = get_dispatch_for_user(request, public_id, SUPERVISE)
    counts = handoff.handoff_counts(dispatch=dispatch)
    return render(
        request,
        "reports/handoff.html",
        {
            "dispatch": dispatch,
            "counts": counts,
            "reasons": [(reason, counts[reason.key]) for reason in handoff.REASONS],
            "refusal": availability.handoff_refusal(dispatch),
            "purged": personal_data_purged(dispatch),
            "available_until": personal_data_until(dispatch),
            "retention_days": dispatch.organization.retention_days,
        },
    )


@require_POST
@login_required
def handoff_download(
    request: AuthenticatedHttpRequest, public_id: str
) -> HttpResponse | FileResponse:
    """The list as CSV or XLSX, of every reason or one: personal data in clear, audited.
    A file response is no HttpResponse, so the membership is checked here rather than by
    `role_required` (the same check); the dispatch's access rule decides 404 or 403."""
    require_role(request, OPERATOR)
    dispatch = get_dispatch_for_user(request, public_id, SUPERVISE)
    form = HandoffDownloadForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Scegli un formato e un motivo tra quelli proposti."))
        return redirect("reports:handoff", public_id=dispatch.public_id)
    try:
        export = handoff.handoff_export(
            dispatch=dispatch,
            actor=request.user,
            file_format=form.cleaned_data["formato"],
            reason=form.cleaned_data["motivo"],
            request=request,
        )
    except NotAllowed as error:
        messages.warning(request, error.message)
        return redirect("reports:handoff", public_id=dispatch.public_id)
    response = FileResponse(
        export.file,
        as_attachment=True,
        filename=export.filename,
        content_type=export.content_type,
    )
    response["Cache-Control"] = "no-store"
    return response
